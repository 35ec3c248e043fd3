"""Benchmark the lake's compaction on a year of small incremental extractions (`--only compaction`).

3,000 `updated` extractions (a year of 3-hourly syncs) are landed through the Lake API, not over HTTP:
each is one page of the sandbox's rendered items, typed by the extractor's own page code, with its
ledger part; the sandbox's clock moves on between extractions so later ones land newer versions.
Then: load + models, compaction (and the next run, which deletes the replaced files), load + models
again. Reported: files before/after, the compaction's time, the audit's and the load's time before and
after, and whether every mart is identical.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from tm_pipeline.bench.models_rebuild import rebuild_seconds
from tm_pipeline.bench.truth_compare import MART_GROUPS
from tm_pipeline.extract.ledger import CallRecord, calls_table
from tm_pipeline.extract.page_table import items_to_table
from tm_pipeline.extract.run import new_extraction_id
from tm_pipeline.landing.compaction import compact_lake
from tm_pipeline.landing.integrity import audit_lake
from tm_pipeline.landing.lake import COMPLETE, Lake, Manifest
from tm_pipeline.load.raw_tables import load_raw_tables
from tm_pipeline.sandbox import SandboxConfig
from tm_pipeline.sandbox.store import TrackingStore

SYNC_INTERVAL_S = 3 * 3600


def land_small_extractions(lake: Lake, extractions: int, rows_each: int, trackings: int,
                           log: Callable[[str], None]) -> int:
    """Land `extractions` one-page `updated` extractions of `rows_each` items; returns the rows landed."""
    store = TrackingStore(SandboxConfig(trackings=trackings, seed=11))
    rows = 0
    for index in range(extractions):
        with store.lock:
            store.advance(SYNC_INTERVAL_S)
            start = (index * rows_each) % max(len(store.order) - rows_each, 1)
            items = [msgspec.Raw(payload) for payload in store.list_page(store.order[start:], 1, rows_each)]
        manifest = Manifest(new_extraction_id(), "updated", {"update_time_min": index, "limit": 2000})
        now = datetime.now(timezone.utc)
        landed = items_to_table(items, manifest.extraction_id, 1, now)
        call = CallRecord(
            f"bench-{index}", manifest.extraction_id, "updated", 1, now, "/trackings/get", "v2", 1,
            json.dumps(manifest.params), 200, 200, "Success", "Success", None, 1, 0.0, 1.0, 1, len(items), len(items),
        )
        lake.commit_page(manifest, 1, landed.trackings, calls_table([call]), landed.quarantine)
        manifest.status = COMPLETE
        lake.save_manifest(manifest)
        rows += landed.trackings.num_rows
        if (index + 1) % 500 == 0:
            log(f"compaction: landed {index + 1:,} of {extractions:,} extractions")
    return rows


def _lake_files(lake: Lake) -> dict[str, int]:
    """Parquet files and manifests in the lake."""
    return {"parquet": len(list(lake.root.rglob("*.parquet"))), "manifests": len(list(lake.root.glob("manifests/*")))}


def _load_and_build(lake: Lake, database: Path) -> tuple[float, float, dict[str, list[tuple[Any, ...]]]]:
    """(audit+load seconds, models seconds, every mart's rows)."""
    database.unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect(str(database)) as connection:
        summary = load_raw_tables(connection, lake)
    load_s = time.perf_counter() - started
    if summary.audit.problems or summary.audit.strays:
        raise RuntimeError(f"the lake is not as committed: {summary.audit.problems[:3]} {summary.audit.strays[:3]}")
    models_s = rebuild_seconds(database)
    with duckdb.connect(str(database), read_only=True) as connection:
        marts = {mart: connection.execute(f"SELECT * FROM main.{mart} ORDER BY ALL").fetchall() for mart in MART_GROUPS}
    return load_s, models_s, marts


def _same(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> bool:
    """Equal, floats to 9 decimals (DuckDB's parallel sums differ in the last bits between builds)."""
    def rounded(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows]

    return rounded(before) == rounded(after)


def bench_compaction(extractions: int, log: Callable[[str], None], rows_each: int = 20,
                     trackings: int = 20_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        lake = Lake(Path(tmp) / "lake")
        log(f"compaction: landing {extractions:,} small extractions of {rows_each} rows through the Lake API")
        rows = land_small_extractions(lake, extractions, rows_each, trackings, log)
        files_before = _lake_files(lake)
        started = time.perf_counter()
        audit_lake(lake)
        audit_before_s = time.perf_counter() - started
        load_before_s, _, marts_before = _load_and_build(lake, Path(tmp) / "before.duckdb")
        log("compaction: compacting")
        first = compact_lake(lake, progress=log)
        files_after_commit = _lake_files(lake)
        second = compact_lake(lake, progress=log)  # the next run deletes the compacted files
        files_after = _lake_files(lake)
        started = time.perf_counter()
        audit_lake(lake)
        audit_after_s = time.perf_counter() - started
        load_after_s, _, marts_after = _load_and_build(lake, Path(tmp) / "after.duckdb")
        return {
            "extractions": extractions,
            "rows": rows,
            "compaction_s": first.elapsed_s,
            "cleanup_run_s": second.elapsed_s,
            "files_before": files_before,
            "files_after_commit": files_after_commit,
            "files_after_cleanup": files_after,
            "parquet_files_read": first.files_read,
            "parts_written": first.parts_written,
            "audit_s_before_after": [audit_before_s, audit_after_s],
            "load_s_before_after": [load_before_s, load_after_s],
            "marts_identical": {mart: _same(marts_before[mart], marts_after[mart]) for mart in MART_GROUPS},
            "marts_rows": sum(len(found) for found in marts_before.values()),
        }
