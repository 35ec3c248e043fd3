"""Heal a manifest that cannot be read: rebuild it from the lake, or move it aside.

A manifest is state, and the lake holds enough to state it again: each page file carries its
extraction_id, page and rows; each ledger part the exact params sent (`params_json`), the window,
the call numbers and the `total` the API reported. So a truncated manifest is rebuilt rather than
failing every later run. Without any ledger part the question the extraction asked is unknown:
the manifest is moved aside and the integrity check reports it (see docs/operations.md).
"""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tm_pipeline.contracts.windows import PARTITION_PREFIX
from tm_pipeline.landing.lake import COMPLETE, FAILED, REPLACED, Lake, Manifest, file_sha256

log = logging.getLogger(__name__)

QUARANTINE_SUFFIX = ".damaged"
_PAGE_PART = re.compile(r"calls-\d+-page-(\d+)\.parquet$")
_PAGE_FILE = re.compile(r"page-(\d+)\.parquet$")


def heal_manifest(lake: Lake, path: Path, error: Exception) -> Manifest | None:
    """Rebuild the manifest at `path` from the lake, keeping the damaged file aside; None if it cannot be."""
    extraction_id = path.stem
    stamp = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    aside = path.with_name(f"{path.name}{QUARANTINE_SUFFIX}-{stamp}")
    # Rebuilding reads the lake's files from the local disk; a remote lake's damaged manifest is moved
    # aside and reported instead (docs/operations.md: rebuild it on a local copy).
    rebuilt = rebuild_manifest(lake, extraction_id) if lake.is_local else None
    lake.move(path, aside)
    if rebuilt is None:
        log.error(
            "manifest %s is damaged (%s) and cannot be rebuilt: no ledger part of extraction %s is readable. "
            "Moved it aside to %s; its pages are not loaded. Run `tm-pipeline sync --mode full` to fetch "
            "everything again, then `tm-pipeline lake accept-loss %s`.",
            path, error, extraction_id, aside, aside,
        )
        return None
    lake.save_manifest(rebuilt)
    log.warning(
        "manifest %s was damaged (%s); rebuilt it from the lake (%s). The damaged file is kept at %s.",
        path, error, rebuilt.rebuilt, aside,
    )
    return rebuilt


def _readable(path: Path) -> pq.ParquetFile | None:
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid):
        return None


def rebuild_manifest(lake: Lake, extraction_id: str) -> Manifest | None:
    """A manifest stated again from the extraction's ledger parts and page files; None without a ledger."""
    ledger_parts, unreadable_parts = {}, []
    for part_path in sorted(lake.calls_dir(extraction_id).glob("*.parquet")):
        part = _readable(part_path)
        if part is None:
            unreadable_parts.append(part_path.name)
        else:
            ledger_parts[part_path.name] = (part_path, part.read())
    if not ledger_parts:
        return None
    calls = pa.concat_tables([table for _, table in ledger_parts.values()]).sort_by("call_seq")
    window_key = calls["window_key"][0].as_py()
    params = json.loads(calls["params_json"][-1].as_py())
    params.pop("page", None)
    manifest = Manifest(extraction_id, window_key, params)
    manifest.dagster_run_ids = sorted(set(calls["run_id"].to_pylist()))
    manifest.calls = pc.max(calls["call_seq"]).as_py()
    totals = [total for total in calls["total_reported"].to_pylist() if total is not None]
    manifest.total_reported = totals[-1] if totals else None
    for name, (part_path, table) in ledger_parts.items():
        manifest.call_parts[name] = {"rows": table.num_rows, "sha256": file_sha256(part_path)}
    for name in unreadable_parts:  # listed, so the integrity check names them instead of calling them strays
        manifest.call_parts[name] = {"rows": None, "sha256": None}

    # Committed pages: a page file on disk, or a ledger part written with a page commit.
    rows_by_page_in_ledger = {
        page: rows for page, rows in zip(calls["page"].to_pylist(), calls["rows"].to_pylist(), strict=True)
        if rows is not None
    }
    committed = {int(m.group(1)) for name in ledger_parts if (m := _PAGE_PART.search(name))}
    page_files = {}
    for page_path in lake.page_path(manifest, 1).parent.glob("page-*.parquet"):
        if match := _PAGE_FILE.search(page_path.name):
            page_files[int(match.group(1))] = page_path
    for page in sorted(committed | set(page_files)):
        page_file = _readable(page_files[page]) if page in page_files else None
        if page_file is None:  # missing or unreadable: the integrity check sees it and the repair refetches
            manifest.pages[page] = rows_by_page_in_ledger.get(page, 0)
            continue
        manifest.pages[page] = page_file.metadata.num_rows
        manifest.checksums[page] = file_sha256(page_files[page])
        stamps = page_file.read(columns=["updated_at", "created_at"])
        manifest.max_updated_at = _newest(manifest.max_updated_at, stamps["updated_at"])
        manifest.max_created_at = _newest(manifest.max_created_at, stamps["created_at"])

    for quarantine_path in lake.quarantine_path(manifest, 1).parent.glob("page-*.parquet"):
        if (match := _PAGE_FILE.search(quarantine_path.name)) and (readable := _readable(quarantine_path)):
            manifest.quarantined[int(match.group(1))] = readable.metadata.num_rows
            manifest.quarantine_checksums[int(match.group(1))] = file_sha256(quarantine_path)

    manifest.status = _inferred_status(lake, manifest, page_files_exist=bool(page_files))
    manifest.rebuilt = (
        f"rebuilt {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} from {len(page_files)} page files and "
        f"{len(ledger_parts)} ledger parts; status '{manifest.status}' inferred"
    )
    return manifest


def _newest(current: int | None, timestamps: pa.ChunkedArray) -> int | None:
    newest = pc.max(timestamps).as_py()
    return current if newest is None else max(current or 0, int(newest.timestamp()))


def _inferred_status(lake: Lake, manifest: Manifest, page_files_exist: bool) -> str:
    """Replaced when a later extraction says so; complete when every page to the reported total is
    there; otherwise failed, so the next run of the window resumes it after its last page."""
    others = []
    for path in (lake.root / "manifests").glob("*.json"):
        try:
            others.append(json.loads(path.read_bytes()))
        except ValueError:
            continue
    for other in others:
        if manifest.extraction_id in other.get("supersedes", []):
            return REPLACED
        later_partition_run = (
            manifest.window_key.startswith(PARTITION_PREFIX)
            and other.get("window_key") == manifest.window_key
            and other.get("extraction_id", "") > manifest.extraction_id
            and other.get("status") == COMPLETE
        )
        if later_partition_run and not page_files_exist:
            return REPLACED
    limit = int(manifest.params.get("limit", 1)) or 1
    pages_expected = math.ceil((manifest.total_reported or 0) / limit)
    contiguous = sorted(manifest.pages) == list(range(1, len(manifest.pages) + 1))
    return COMPLETE if contiguous and len(manifest.pages) >= pages_expected else FAILED
