"""Repair the lake where the API is at hand: re-extract every extraction with a page not as committed.

Why a whole extraction and not the one page: an `updated` window's matching set grows as
trackings change, so its page k today is not its page k then; even a `full` walk, whose order the
frozen `created_at_max` keeps stable, shifts if a tracking is deleted. Asking the damaged
extraction's exact params again, as a new extraction that replaces it once complete, returns a
superset of what it held (newer states win at load), so nothing is lost or duplicated. A
`created_day=` partition is the same: its re-run replaces it. Ledger parts cannot be refetched:
they are the evidence of what the API answered, and only the load's integrity check reports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from tm_pipeline.contracts.windows import PUSH_WINDOW
from tm_pipeline.extract.run import ExtractSummary
from tm_pipeline.extract.windows import Window
from tm_pipeline.landing.integrity import LakeAudit, audit_lake
from tm_pipeline.landing.lake import Lake, Manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LakeRepair:
    damaged_extraction_id: str
    window_key: str
    files: list[str]  # lake-relative files that were missing or damaged
    repaired_by: str  # the new extraction
    rows: int


# Runs one extraction (window, damaged manifest) and returns its summary: the asset's fetcher and
# progress reporting, so a repair is paced, ledgered and reported like any extraction.
ExtractOne = Callable[[Window, Manifest], ExtractSummary]


def repair_lake(
    lake: Lake, extract_one: ExtractOne, logger: logging.Logger = log
) -> tuple[list[LakeRepair], LakeAudit]:
    """Re-extract each damaged extraction; returns the repairs and the lake's audit afterwards."""
    audit = audit_lake(lake)
    repairs = []
    # Pushes are not the API's to give again: the seal re-seals a damaged push extraction from the push log.
    for damaged in [m for m in audit.damaged_extractions() if m.window_key != PUSH_WINDOW]:
        files = sorted(p.file for p in audit.page_problems if p.extraction_id == damaged.extraction_id)
        logger.warning(
            f"lake files of extraction {damaged.extraction_id} ({damaged.window_key}) are missing or damaged: "
            f"{', '.join(files)}; re-extracting it with its exact params"
        )
        summary = extract_one(Window(damaged.window_key), damaged)
        repairs.append(
            LakeRepair(damaged.extraction_id, damaged.window_key, files, summary.extraction_id, summary.rows)
        )
        logger.warning(
            f"repaired: extraction {summary.extraction_id} ({summary.rows} rows) replaces {damaged.extraction_id}"
        )
    return repairs, (audit_lake(lake) if repairs else audit)
