"""Walk every page of one list window and land it: the extraction a Dagster asset runs.

The walk is the same for every API version: the fetcher's `ListEndpoint` renders the query,
reads the page and says whether a `total` is reported at all.

Paging ends on the data, never on `total`: a full page (as many rows as `limit`) means "ask for
the next one", a short or empty page (or 4031) ends the walk. `total` is only a progress estimate;
the real API has been seen to report half the rows it then serves.

The window's `created_at_max` is frozen when an extraction starts. The API sorts newest-created
first, so trackings created while we page would otherwise push rows across page boundaries; with
the bound frozen they wait for the next run. Updates do not move a tracking in that order, and a
row seen twice is deduplicated at load (newest `updated_at` wins). What still moves — `total`
changing, fewer rows than `total` — is recorded as drift in the manifest and, because rows may
have been skipped, as a possible gap: an extraction with a possible gap never moves a watermark,
so the next incremental run asks again from the older one.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

from tm_pipeline.api.endpoints import ItemFields
from tm_pipeline.api.endpoints.base import CREATED_UNTIL, LIMIT, PAGE
from tm_pipeline.api.endpoints.v2 import V2_LIST
from tm_pipeline.api.envelope import ListPage
from tm_pipeline.extract.fetch import FetchedPage, PageFetcher
from tm_pipeline.extract.ledger import Ledger, calls_table
from tm_pipeline.extract.page_table import items_to_table
from tm_pipeline.extract.windows import CREATED, FULL, UPDATED, SyncState, Window
from tm_pipeline.landing.lake import COMPACTED, COMPLETE, EXTRACTION, FAILED, Lake, Manifest

MAX_PAGE_LIMIT = V2_LIST.max_page_limit  # v2's; each endpoint states its own

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageProgress:
    """Where an extraction stands after a committed page: for logs, and for Dagster metadata."""

    window_key: str
    page: int
    pages_expected: int
    rows: int
    rows_per_s: float
    eta_s: float

    def __str__(self) -> str:
        return (
            f"{self.window_key}: page {self.page}/{self.pages_expected}, {self.rows:,} trackings landed, "
            f"{self.rows_per_s:,.0f}/s, ETA {self.eta_s:,.0f} s"
        )


def _log_progress(progress: PageProgress) -> None:
    log.info("%s", progress)


ProgressCallback = Callable[[PageProgress], None]


@dataclass
class ExtractSummary:
    extraction_id: str
    window_key: str
    pages: int
    rows: int
    total_reported: int | None
    calls: int
    resumed_from_page: int | None = None
    codes: dict[str, int] = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)
    possible_gaps: list[str] = field(default_factory=list)
    quarantined: int = 0
    elapsed_s: float = 0.0


def new_extraction_id() -> str:
    """Sortable by start time, unique across machines."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:8]}"


def sync_state(manifests: Iterable[Manifest]) -> SyncState:
    """Watermarks from completed full and incremental extractions (partitions do not move them).

    Watermarks are the newest `updated_at`/`created_at` the server sent, never our own clock, so a
    server whose clock differs from ours (or the sandbox's simulated one) cannot open a gap. An
    extraction that may have missed rows (`possible_gaps`) gives no watermark: moving past rows
    it never saw would hide them from every later incremental run.
    """
    max_updated_at = max_created_at = None
    longest_run_s = 0.0
    for manifest in manifests:
        # A compacted extraction keeps its watermarks; a compaction itself asked the API nothing.
        if manifest.status not in (COMPLETE, COMPACTED) or manifest.kind != EXTRACTION:
            continue
        if manifest.window_key not in (FULL, UPDATED, CREATED):
            continue
        longest_run_s = max(longest_run_s, manifest.elapsed_s)
        if manifest.possible_gaps:
            continue
        if manifest.window_key in (FULL, UPDATED) and manifest.max_updated_at is not None:
            max_updated_at = max(max_updated_at or 0, manifest.max_updated_at)
        if manifest.window_key in (FULL, CREATED) and manifest.max_created_at is not None:
            max_created_at = max(max_created_at or 0, manifest.max_created_at)
    return SyncState(max_updated_at, max_created_at, longest_run_s)


def extract_window(
    fetcher: PageFetcher,
    lake: Lake,
    window: Window,
    page_limit: int | None = None,
    progress: ProgressCallback = _log_progress,
    dagster_run_id: str = "",
    repair_of: Manifest | None = None,
) -> ExtractSummary:
    """Fetch all pages of `window` into the lake, resuming an unfinished extraction of the same window.

    With `repair_of`, ask again exactly the damaged extraction's question (its frozen params) as a
    new extraction that replaces it once complete (see extract/repair.py). `page_limit` None is
    the endpoint's default page size."""
    endpoint = fetcher.endpoint
    if page_limit is None:
        page_limit = endpoint.default_page_limit
    if not 1 <= page_limit <= endpoint.max_page_limit:
        raise ValueError(f"page_limit must be 1..{endpoint.max_page_limit} for {endpoint.version}, got {page_limit}")
    if repair_of is None:
        manifest = lake.resumable(window.key)
    else:
        manifest = next(
            (m for m in lake.manifests() if m.resumable and repair_of.extraction_id in m.supersedes), None
        )
    resumed_from = None
    if manifest is None and repair_of is not None:
        manifest = Manifest(
            new_extraction_id(), window.key, dict(repair_of.params), supersedes=[repair_of.extraction_id]
        )
    elif manifest is None:
        params = {LIMIT: page_limit, CREATED_UNTIL: int(time.time()), **window.filters}
        manifest = Manifest(new_extraction_id(), window.key, params)
    else:
        resumed_from = max(manifest.pages, default=0) + 1
        log.warning("resuming extraction %s of window %s at page %d", manifest.extraction_id, window.key, resumed_from)
    if dagster_run_id:
        manifest.dagster_run_ids.append(dagster_run_id)
    lake.save_manifest(manifest)
    ledger = Ledger(
        dagster_run_id or manifest.extraction_id, manifest.extraction_id, window.key, calls_before=manifest.calls
    )
    started = time.monotonic()
    try:
        _walk_pages(fetcher, ledger, lake, manifest, progress, started)
    except BaseException:  # keep the evidence of a failed run, whatever failed
        _finish(lake, manifest, ledger, FAILED, started)
        raise
    _judge_total(manifest)
    _finish(lake, manifest, ledger, COMPLETE, started)
    if manifest.supersedes:
        lake.retire(manifest, manifest.supersedes)
    if window.is_partition:
        lake.replace_earlier(manifest)
    return ExtractSummary(
        extraction_id=manifest.extraction_id,
        window_key=window.key,
        pages=len(manifest.pages),
        rows=manifest.rows,
        total_reported=manifest.total_reported,
        calls=ledger.calls,
        resumed_from_page=resumed_from,
        codes=dict(ledger.codes),
        drift=list(manifest.drift),
        possible_gaps=list(manifest.possible_gaps),
        quarantined=sum(manifest.quarantined.values()),
        elapsed_s=manifest.elapsed_s,
    )


def _walk_pages(
    fetcher: PageFetcher, ledger: Ledger, lake: Lake, manifest: Manifest, progress: ProgressCallback, started: float
) -> None:
    """Fetch page k+1 in a background thread while page k is converted and committed.

    The next page is asked for exactly when this one came back full; the pacer still spaces every
    request start, so this only hides our own processing behind the server's latency; at most two
    pages are in memory.
    """
    page_limit = int(manifest.params[LIMIT])
    first_page = page = max(manifest.pages, default=0) + 1
    previous_first_item: bytes | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as prefetcher:
        next_fetch: Future[FetchedPage] | None = prefetcher.submit(
            fetcher.fetch, {**manifest.params, PAGE: page}, page, ledger
        )
        try:
            while next_fetch is not None:
                fetched = next_fetch.result()
                next_fetch = None
                if fetched.page is None or not fetched.page.items:
                    # Past the end; 4031 means "nothing to return": an empty result, not an error.
                    # No page lands, so its calls go with the run's final commit (they are evidence).
                    ledger.keep_unlanded(fetched.calls)
                    break
                first_item = bytes(fetched.page.items[0])
                if first_item == previous_first_item:
                    # A server that ignores `page` would otherwise be paged forever.
                    manifest.possible_gaps.append(f"page {page} repeats page {page - 1}: the API ignored `page`")
                    break
                previous_first_item = first_item
                rows_on_page = len(fetched.page.items)
                if fetcher.endpoint.reports_total:
                    _record_total(manifest, fetched.page, page)
                if rows_on_page >= page_limit:
                    next_fetch = prefetcher.submit(
                        fetcher.fetch, {**manifest.params, PAGE: page + 1}, page + 1, ledger
                    )
                _commit(lake, manifest, ledger, fetched, fetched.page, page, fetcher.endpoint.item_fields)
                pages_expected = _pages_expected(manifest, page, page_limit, more=next_fetch is not None)
                elapsed = time.monotonic() - started
                progress(
                    PageProgress(
                        window_key=manifest.window_key,
                        page=page,
                        pages_expected=pages_expected,
                        rows=manifest.rows,
                        rows_per_s=manifest.rows / elapsed if elapsed > 0 else 0.0,
                        eta_s=(pages_expected - page) * elapsed / (page - first_page + 1),
                    )
                )
                page += 1
        finally:
            if next_fetch is not None and not next_fetch.cancel():
                _keep_calls_of_abandoned(next_fetch, ledger)


def _keep_calls_of_abandoned(fetch: Future[FetchedPage], ledger: Ledger) -> None:
    """A page fetched while the run failed is not committed, but its calls are still evidence."""
    if fetch.exception() is None:  # a failed fetch already handed its calls to the ledger
        ledger.keep_unlanded(fetch.result().calls)


def _record_total(manifest: Manifest, list_page: ListPage, page: int) -> None:
    """Keep the latest reported `total`; a change mid-walk is drift, and rows may have shifted past us."""
    total = list_page.total_reported
    if total is None:
        manifest.drift.append(f"page {page}: 'total' is missing or not a number ({list_page.total!r})")
        return
    if manifest.total_reported is not None and total != manifest.total_reported:
        change = f"page {page}: total changed from {manifest.total_reported} to {total}"
        manifest.drift.append(change)
        manifest.possible_gaps.append(f"{change} while paging: rows may have moved across pages")
    manifest.total_reported = total


def _pages_expected(manifest: Manifest, page: int, page_limit: int, more: bool) -> int:
    """An estimate for progress only: what `total` implies, but never less than what the data showed."""
    by_total = math.ceil(manifest.total_reported / page_limit) if manifest.total_reported else 0
    return max(by_total, page + 1 if more else page)


def _judge_total(manifest: Manifest) -> None:
    """Compare the finished walk with `total`, both ways. Fewer rows than reported may be rows we
    missed (the walk ended on a short page the total says was not the last): a possible gap. More
    rows than reported means `total` was wrong, and paging on the data already got them all."""
    total, fetched = manifest.total_reported, manifest.items_fetched
    if total is None or fetched == total:
        return
    if fetched < total:
        gap = f"fetched {fetched} items but the API reported {total}: {total - fetched} may be missing"
        manifest.drift.append(gap)
        manifest.possible_gaps.append(gap)
    else:
        manifest.drift.append(
            f"fetched {fetched} items but the API reported only {total}: its total is wrong; "
            "paging continued until a short page"
        )


def _commit(
    lake: Lake,
    manifest: Manifest,
    ledger: Ledger,
    fetched: FetchedPage,
    listed: ListPage,
    page: int,
    item_fields: ItemFields,
) -> None:
    landed = items_to_table(listed.items, manifest.extraction_id, page, datetime.now(timezone.utc), item_fields)
    table = landed.trackings
    manifest.max_updated_at = _newest(manifest.max_updated_at, table["updated_at"])
    manifest.max_created_at = _newest(manifest.max_created_at, table["created_at"])
    manifest.calls = ledger.calls
    lake.commit_page(manifest, page, table, calls_table(fetched.calls), landed.quarantine)
    if landed.quarantine.num_rows:
        log.warning(
            "page %d: %d item(s) quarantined (first: position %s, %s)", page, landed.quarantine.num_rows,
            landed.quarantine["position"][0].as_py(), landed.quarantine["detail"][0].as_py(),
        )


def _newest(current: int | None, timestamps: pa.ChunkedArray) -> int | None:
    newest = pc.max(timestamps).as_py()
    if newest is None:
        return current
    return max(current or 0, int(newest.timestamp()))


def _finish(lake: Lake, manifest: Manifest, ledger: Ledger, status: str, started: float) -> None:
    manifest.status = status
    manifest.calls = ledger.calls
    manifest.elapsed_s += time.monotonic() - started
    lake.commit_calls(manifest, ledger.drain_unlanded(), part="final")
    lake.save_manifest(manifest)
