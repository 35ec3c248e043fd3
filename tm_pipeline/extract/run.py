"""Walk every page of one list window and land it: the extraction a Dagster asset runs.

The window's `created_at_max` is frozen at run start. The API sorts newest-created first, so
trackings created while we page would otherwise push rows across page boundaries; with the bound
frozen they simply wait for the next run. Updates do not move a tracking in that order, and rows
seen twice are deduplicated at load (newest `updated_at` wins).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.page_table import items_to_table
from tm_pipeline.landing.lake import Lake

LIST_ENDPOINT = "/trackings/get"
MAX_PAGE_LIMIT = 2000

log = logging.getLogger(__name__)


@dataclass
class ExtractSummary:
    run_id: str
    pages: int
    rows: int
    total_reported: int | None
    calls: int
    codes: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0


ProgressCallback = Callable[[str], None]


def extract_window(
    fetcher: PageFetcher,
    lake: Lake,
    window: dict[str, Any] | None = None,
    page_limit: int = MAX_PAGE_LIMIT,
    progress: ProgressCallback = log.info,
) -> ExtractSummary:
    """Fetch all pages of the list endpoint for `window` (extra filters) into the lake."""
    if not 1 <= page_limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"page_limit must be 1..{MAX_PAGE_LIMIT}, got {page_limit}")
    ledger = fetcher.ledger
    run_id = ledger.run_id
    params = {"limit": page_limit, "created_at_max": int(time.time()), **(window or {})}
    manifest = lake.start_run(run_id, params)
    started = time.monotonic()
    page, pages_expected = 1, None
    try:
        while pages_expected is None or page <= pages_expected:
            attempt = fetcher.fetch(LIST_ENDPOINT, {**params, "page": page}, page)
            items = attempt.data.get("items", []) if isinstance(attempt.data, dict) else []
            if attempt.code == 4031 or not items:
                break  # 4031 means "nothing to return": an empty result, not an error
            manifest.total_reported = int(attempt.data["total"])
            pages_expected = math.ceil(manifest.total_reported / page_limit)
            table = items_to_table(items, run_id, page, datetime.now(timezone.utc))
            lake.commit_page(manifest, page, table, ledger.drain())
            _report(progress, page, pages_expected, manifest.rows, started)
            page += 1
    except BaseException:  # keep the evidence of a failed run, whatever failed
        manifest.status = "failed"
        lake.commit_calls(run_id, ledger.drain(), part="final")
        lake.save_manifest(manifest)
        raise
    manifest.status = "complete"
    lake.commit_calls(run_id, ledger.drain(), part="final")
    lake.save_manifest(manifest)
    return ExtractSummary(
        run_id=run_id,
        pages=len(manifest.pages),
        rows=manifest.rows,
        total_reported=manifest.total_reported,
        calls=ledger.calls,
        codes=dict(ledger.codes),
        elapsed_s=time.monotonic() - started,
    )


def _report(progress: ProgressCallback, page: int, pages_expected: int, rows: int, started: float) -> None:
    elapsed = time.monotonic() - started
    rate = rows / elapsed if elapsed > 0 else 0.0
    remaining_pages = pages_expected - page
    eta_s = elapsed / page * remaining_pages
    progress(f"page {page}/{pages_expected}: {rows} trackings so far, {rate:,.0f}/s, ETA {eta_s:,.0f} s")
