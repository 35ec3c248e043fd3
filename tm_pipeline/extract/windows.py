"""Which slices of the account a run asks for: full, incremental since the last sync, or one created day.

Incremental sync needs two windows because a tracking that was created but never refreshed has
`updated_at` null and so never matches `update_time_min`; the `created` window catches those.
Each window's watermark comes only from completed extractions, so a failed run never advances it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from tm_pipeline.api.endpoints.base import CREATED_SINCE, CREATED_UNTIL, UPDATED_SINCE
from tm_pipeline.contracts.windows import PARTITION_PREFIX

FULL = "full"
UPDATED = "updated"
CREATED = "created"


@dataclass(frozen=True)
class Window:
    """A slice of the account. `filters` are abstract (api/endpoints/base.py: instants in unix
    seconds); the endpoint renders them in its version's names and formats."""

    key: str
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def is_partition(self) -> bool:
        """Partition windows replace their earlier extractions when re-run."""
        return self.key.startswith(PARTITION_PREFIX)


@dataclass(frozen=True)
class SyncState:
    """Watermarks from completed extractions, in the server's unix seconds."""

    max_updated_at: int | None
    max_created_at: int | None
    longest_run_s: float = 0.0


def full_window() -> Window:
    return Window(FULL)


def created_day_window(day: date) -> Window:
    start = int(datetime.combine(day, time.min, tzinfo=timezone.utc).timestamp())
    end = int(datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.utc).timestamp()) - 1
    return Window(f"{PARTITION_PREFIX}{day.isoformat()}", {CREATED_SINCE: start, CREATED_UNTIL: end})


def incremental_windows(state: SyncState, overlap_s: float) -> list[Window]:
    """Everything updated or created since the watermarks, minus an overlap.

    The overlap must exceed the longest run (a tracking updated while the previous run paged can
    carry an `updated_at` older than that run's watermark), so it grows with the runs it follows.
    """
    if state.max_updated_at is None or state.max_created_at is None:
        return [full_window()]
    overlap = int(max(overlap_s, 2 * state.longest_run_s))
    return [
        Window(UPDATED, {UPDATED_SINCE: max(1, state.max_updated_at - overlap)}),
        Window(CREATED, {CREATED_SINCE: max(1, state.max_created_at - overlap)}),
    ]
