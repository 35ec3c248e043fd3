"""Big lakes made without HTTP: sandbox items landed through the `Lake` API, as extractions would.

A year of 3-hourly syncs is thousands of extractions; fetching them at 1 request/second would take
hours, and what the load's cost depends on is the lake (files, manifests, rows), not how it was
fetched. So items are the sandbox's own (generator and renderer), typed by the extractor's
page_table, and committed page by page with a ledger row each, exactly as `extract_window` does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone

import msgspec
import orjson
import pyarrow as pa

from tm_pipeline.extract.ledger import CallRecord, calls_table
from tm_pipeline.extract.page_table import items_to_table
from tm_pipeline.landing.lake import COMPLETE, Lake, Manifest
from tm_pipeline.sandbox.generator import generate_shipments
from tm_pipeline.sandbox.render import render_tracking

PAGE_LIMIT = 2000
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def sandbox_items(count: int, seed: int, at: datetime, history_days: int = 120) -> Iterator[bytes]:
    """`count` trackings as the sandbox's list endpoint would send them at `at` (JSON bytes each)."""
    now_ts = int(at.timestamp())
    for shipment in generate_shipments(seed, count, now_ts, history_days * 86400):
        yield orjson.dumps(render_tracking(shipment.live_view(now_ts), 0))


def account_items(count: int, seed: int, at: datetime, distinct: int = 100_000) -> Iterator[bytes]:
    """`count` trackings: up to `distinct` rendered by the sandbox, the rest copies of those with their
    own id and tracking number. Rendering 10M journeys would take an hour on a shared 2-core machine;
    copies keep the sizes and shapes of real items, and the load only needs them to be distinct."""
    pool = list(sandbox_items(min(count, distinct), seed, at))
    yield from pool
    keys = [(document["id"], document["tracking_number"]) for document in map(orjson.loads, pool)]
    for index in range(len(pool), count):
        copy, original = divmod(index, len(pool))
        tracking_id, number = keys[original]
        item = pool[original].replace(f'"id":"{tracking_id}"'.encode(), f'"id":"{copy:08x}{tracking_id[8:]}"'.encode())
        yield item.replace(
            f'"tracking_number":"{number}"'.encode(), f'"tracking_number":"{number}-{copy}"'.encode()
        )


def restamped(item: bytes, updated_at: datetime | None) -> bytes:
    """The same tracking with another `updated_at`: a later (or, out of order, an earlier) state."""
    document = json.loads(item)
    document["updated_at"] = None if updated_at is None else updated_at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return orjson.dumps(document)


def _call(
    extraction_id: str, window_key: str, call_seq: int, page: int, rows: int, at: datetime, total: int
) -> CallRecord:
    return CallRecord(
        run_id=f"run-{extraction_id}", extraction_id=extraction_id, window_key=window_key, call_seq=call_seq,
        requested_at=at, endpoint="/trackings/get", api_version="v2", page=page, params_json="{}", http_status=200,
        meta_code=200, meta_type="Success", meta_message="Request response is successful", failure=None,
        attempt=1, wait_before_s=0.0, latency_ms=1.0, response_bytes=0, rows=rows, total_reported=total,
    )


def land_extraction(
    lake: Lake, extraction_id: str, items: Sequence[bytes], fetched_at: datetime,
    window_key: str = "updated", page_limit: int = PAGE_LIMIT,
) -> Manifest:
    """Commit `items` as one complete extraction of `window_key`, `page_limit` items a page."""
    manifest = Manifest(extraction_id=extraction_id, window_key=window_key, params={"limit": page_limit})
    pages = [items[start:start + page_limit] for start in range(0, len(items), page_limit)] or [[]]
    for page, page_items in enumerate(pages, start=1):
        at = fetched_at + timedelta(seconds=page)
        tables = items_to_table([msgspec.Raw(item) for item in page_items], extraction_id, page, at)
        calls = calls_table([_call(extraction_id, window_key, page, page, len(page_items), at, len(items))])
        quarantine = tables.quarantine if tables.quarantine.num_rows else None
        lake.commit_page(manifest, page, tables.trackings, calls, quarantine)
        manifest.calls = page
    manifest.status = COMPLETE
    lake.save_manifest(manifest)
    return manifest


def base_extraction(lake: Lake, trackings: int, seed: int, at: datetime, extraction_id: str) -> int:
    """The first full sync of an account of `trackings`, landed page by page (memory stays one page)."""
    manifest = Manifest(extraction_id=extraction_id, window_key="full", params={"limit": PAGE_LIMIT})
    page_items: list[bytes] = []
    page = 0

    def commit() -> None:
        nonlocal page
        page += 1
        fetched = at + timedelta(seconds=page)
        tables = items_to_table([msgspec.Raw(item) for item in page_items], extraction_id, page, fetched)
        calls = calls_table([_call(extraction_id, "full", page, page, len(page_items), fetched, trackings)])
        quarantine = tables.quarantine if tables.quarantine.num_rows else None
        lake.commit_page(manifest, page, tables.trackings, calls, quarantine)
        manifest.calls = page
        page_items.clear()

    for item in account_items(trackings, seed, at):
        page_items.append(item)
        if len(page_items) == PAGE_LIMIT:
            commit()
    if page_items:
        commit()
    manifest.status = COMPLETE
    lake.save_manifest(manifest)
    return page


def changed_items(lake: Lake, base: Manifest, count: int, rng: random.Random, updated_at: datetime) -> list[bytes]:
    """`count` trackings of the base extraction, spread over its pages, with a newer `updated_at`."""
    import pyarrow.parquet as pq

    pages = sorted(base.pages)
    chosen: list[bytes] = []
    per_page = max(1, count // min(len(pages), 8))
    while len(chosen) < count:
        table: pa.Table = pq.read_table(lake.page_path(base, rng.choice(pages)), columns=["raw_json"])
        raw = table["raw_json"].to_pylist()
        for item in rng.sample(raw, min(per_page, len(raw), count - len(chosen))):
            chosen.append(restamped(item.encode(), updated_at))
    return chosen
