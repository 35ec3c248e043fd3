"""Everything that shapes one sandbox instance, in one frozen value.

A run is reproducible from its config alone: the seed drives the data and the fault sequence,
and the simulated clock starts at `start_at`, never at the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class SandboxConfig:
    """Knobs of the stand-in TrackingMore v2 server.

    `list_rate_per_s=None` (or 0) disables list throttling, for unthrottled benchmarks.
    `mirror_http_status=True` also sends the meta code as the HTTP status (4xxx business codes as
    400, 4001/4002 as 401); the default keeps the v2 habit of HTTP 200 with the error in meta.code.
    """

    trackings: int = 3000
    seed: int = 42
    api_keys: tuple[str, ...] = ("sandbox-key",)
    list_rate_per_s: float | None = 1.0
    rate_tolerance_s: float = 0.02
    start_at: datetime = datetime(2024, 6, 1, tzinfo=timezone.utc)
    history_days: float = 120.0
    account_utc_offset_h: int = 8
    mirror_http_status: bool = False
