"""Seal landed pushes into the lake as an ordinary extraction, exactly once.

A seal reads every push record no complete push extraction holds yet (per segment, the byte
ranges up to the last complete line that no manifest names), builds TRACKINGS pages with the
extractor's own item→columns code (`items_to_table` with the pushing API version's key mapping,
the same the list endpoint uses: raw_json is the pushed tracking object exactly as sent, fetched_at
its receive time), and
commits them through `Lake` as an extraction of window `push` whose manifest names the segment
byte ranges it holds. From there the load treats pushes like any page: latest `updated_at` wins,
so duplicates and reordered pushes cannot double a tracking or roll it back, and the integrity
audit covers them.

Exactly once: the manifest is the commit point and records the ranges; a seal that died before
completing leaves a `running` manifest, which the next seal retires (its pages deleted) and whose
ranges it seals again. A complete push extraction whose pages were damaged is retired and sealed
again from the log the same way. One seal at a time (a lock file), whichever run calls it.

Within one seal a tracking pushed n times lands on n different pages (its k-th push on the k-th
group of pages): the load picks each tracking's winner by (updated_at, fetched_at, page) and
reads back that one page's row, so two rows of one tracking must never share a page.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import msgspec
import pyarrow as pa

from tm_pipeline.api.endpoints.v2 import V2_ITEM_FIELDS
from tm_pipeline.api.endpoints.v4 import V4_ITEM_FIELDS
from tm_pipeline.contracts.fields import UTC_US
from tm_pipeline.contracts.windows import PUSH_WINDOW
from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import items_to_table
from tm_pipeline.extract.run import new_extraction_id
from tm_pipeline.landing.integrity import audit_lake
from tm_pipeline.landing.lake import COMPLETE, REPLACED, Lake, Manifest
from tm_pipeline.landing.pushes import PUSHES_DIR, PushRecord, complete_end, read_records, segment_names
from tm_pipeline.webhooks.verify import V4

log = logging.getLogger(__name__)

PAGE_ROWS = 2000
MAX_SEAL_BYTES = 128 * 1024 * 1024


class _PushBody(msgspec.Struct):
    data: msgspec.Raw  # the tracking object's exact bytes, without re-serialising it


_BODY_DECODER = msgspec.json.Decoder(_PushBody)


@dataclass
class SealSummary:
    extraction_id: str | None  # None when there was nothing to seal
    records: int = 0
    pages: int = 0
    quarantined: int = 0
    ranges: dict[str, list[list[int]]] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def push_manifests(lake: Lake) -> list[Manifest]:
    return [m for m in lake.manifests() if m.window_key == PUSH_WINDOW]


def covered_ranges(manifests: list[Manifest]) -> dict[str, list[tuple[int, int]]]:
    """Per segment, the byte ranges complete push extractions hold, sorted."""
    covered: dict[str, list[tuple[int, int]]] = {}
    for manifest in manifests:
        if manifest.status != COMPLETE:
            continue
        for segment, ranges in manifest.params.get("segments", {}).items():
            covered.setdefault(segment, []).extend((int(start), int(end)) for start, end in ranges)
    return {segment: sorted(ranges) for segment, ranges in covered.items()}


def _gaps(covered: list[tuple[int, int]], end: int) -> list[list[int]]:
    gaps, position = [], 0
    for start, stop in covered:
        if start > position:
            gaps.append([position, min(start, end)])
        position = max(position, stop)
    if end > position:
        gaps.append([position, end])
    return [gap for gap in gaps if gap[1] > gap[0]]


def unsealed_ranges(lake: Lake, manifests: list[Manifest] | None = None) -> dict[str, list[list[int]]]:
    """segment -> [[start, end), ...] of complete records that no complete push extraction holds."""
    covered = covered_ranges(push_manifests(lake) if manifests is None else manifests)
    unsealed = {}
    for segment in segment_names(lake.root):
        gaps = _gaps(covered.get(segment, []), complete_end(lake.root / PUSHES_DIR / segment))
        if gaps:
            unsealed[segment] = gaps
    return unsealed


def unsealed_bytes(lake: Lake) -> int:
    """What the sensor watches: bytes of landed pushes not yet in any complete push extraction."""
    return sum(end - start for gaps in unsealed_ranges(lake).values() for start, end in gaps)


@contextmanager
def _seal_lock(lake: Lake) -> Iterator[None]:
    directory = lake.root / PUSHES_DIR
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".seal.lock", "wb") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # blocks: another seal finishes first, then this one sees its work
        yield


def _item_bytes(record: PushRecord) -> bytes:
    """The tracking object exactly as pushed, which goes into raw_json whatever its API version."""
    return bytes(_BODY_DECODER.decode(record.body).data)


def _pages(records: list[PushRecord]) -> list[list[PushRecord]]:
    """Records in receive order, each tracking's k-th push in the k-th group (one group per API version,
    whose keys type the page), groups cut into pages."""
    occurrences: dict[str, int] = {}
    groups: dict[tuple[int, str], list[PushRecord]] = {}  # (k, shape): a page is typed by one version's keys
    for record in records:
        k = occurrences.get(record.tracking_id, 0)
        occurrences[record.tracking_id] = k + 1
        groups.setdefault((k, record.shape), []).append(record)
    return [group[i : i + PAGE_ROWS] for group in groups.values() for i in range(0, len(group), PAGE_ROWS)]


def _page_tables(records: list[PushRecord], extraction_id: str, page: int) -> tuple[pa.Table, pa.Table]:
    raw_items = [msgspec.Raw(_item_bytes(record)) for record in records]
    item_fields = V4_ITEM_FIELDS if records[0].shape == V4 else V2_ITEM_FIELDS
    landed = items_to_table(raw_items, extraction_id, page, records[0].received_at, item_fields=item_fields)
    quarantined = set(landed.quarantine["position"].to_pylist())
    # One receive time per row (items_to_table stamps a page with one time; a push page spans many).
    received = [r.received_at for i, r in enumerate(records) if i not in quarantined]
    trackings = landed.trackings.set_column(
        landed.trackings.schema.get_field_index("fetched_at"), landed.trackings.schema.field("fetched_at"),
        pa.array(received, UTC_US),
    )
    quarantine = landed.quarantine
    if quarantine.num_rows:
        quarantine = quarantine.set_column(
            quarantine.schema.get_field_index("fetched_at"), quarantine.schema.field("fetched_at"),
            pa.array([records[i].received_at for i in quarantine["position"].to_pylist()], UTC_US),
        )
    return trackings, quarantine


def _retire_broken(lake: Lake, manifests: list[Manifest], sealing: Manifest) -> list[str]:
    """Push extractions to seal again: unfinished ones, and complete ones whose pages are not as committed."""
    unfinished = [m.extraction_id for m in manifests if m.status not in (COMPLETE, REPLACED)]
    damaged: list[str] = []
    if any(m.status == COMPLETE for m in manifests):
        damaged = [m.extraction_id for m in audit_lake(lake).damaged_extractions() if m.window_key == PUSH_WINDOW]
    for extraction_id in damaged:
        log.warning("push extraction %s has pages not as committed: sealing its pushes again", extraction_id)
    return lake.retire(sealing, unfinished + damaged) if unfinished or damaged else []


def _read_within(
    lake: Lake, ranges: dict[str, list[list[int]]], max_bytes: int
) -> tuple[list[PushRecord], dict[str, list[list[int]]]]:
    """The records of `ranges`, stopping after the record that reaches `max_bytes` of log; returns
    them with the ranges they cover exactly (the rest waits for the next seal)."""
    records: list[PushRecord] = []
    covered: dict[str, list[list[int]]] = {}
    taken = 0
    for segment, gaps in ranges.items():
        for start, end in gaps:
            for record in read_records(lake.root, segment, start, end):
                records.append(record)
                taken += record.end - record.start
                if taken >= max_bytes:
                    covered.setdefault(segment, []).append([start, record.end])
                    return records, covered
            covered.setdefault(segment, []).append([start, end])
    return records, covered


def seal_pushes(lake: Lake, dagster_run_id: str = "", max_bytes: int = MAX_SEAL_BYTES) -> SealSummary:
    """Seal landed, unsealed pushes (at most about `max_bytes` of log, so a backlog never has to fit
    in memory at once: the sensor sees the rest and runs again) into one new push extraction."""
    started = time.monotonic()
    with _seal_lock(lake):
        manifests = push_manifests(lake)
        sealing = Manifest(new_extraction_id(), PUSH_WINDOW, {"segments": {}})
        retired = _retire_broken(lake, manifests, sealing)
        ranges = unsealed_ranges(lake, push_manifests(lake) if retired else manifests)
        if not ranges:
            return SealSummary(None, retired=retired, elapsed_s=time.monotonic() - started)
        records, ranges = _read_within(lake, ranges, max_bytes)
        sealing.params = {"segments": ranges}
        sealing.total_reported = len(records)
        if dagster_run_id:
            sealing.dagster_run_ids.append(dagster_run_id)
        lake.save_manifest(sealing)  # running: a crash from here on is retired and redone by the next seal
        no_calls = LEDGER_SCHEMA.empty_table()
        for page, page_records in enumerate(_pages(records), start=1):
            trackings, quarantine = _page_tables(page_records, sealing.extraction_id, page)
            lake.commit_page(sealing, page, trackings, no_calls, quarantine)
        sealing.status = COMPLETE
        sealing.elapsed_s = time.monotonic() - started
        lake.save_manifest(sealing)  # the commit point
        return SealSummary(
            sealing.extraction_id,
            records=len(records),
            pages=len(sealing.pages),
            quarantined=sum(sealing.quarantined.values()),
            ranges=ranges,
            retired=retired,
            elapsed_s=sealing.elapsed_s,
        )
