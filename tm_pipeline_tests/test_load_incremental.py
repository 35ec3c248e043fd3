"""An incremental load gives exactly the tables a full rebuild gives, and rebuilds in full when it must.

Real sandbox items (generator and renderer), typed by the extractor's page table and committed
through the `Lake` API into Parquet with manifests, loaded into real DuckDB files. Extractions
overlap, carry states out of order (an older `updated_at` fetched later), never-refreshed copies
and exact ties, so a merge that kept the wrong row differs from the rebuild somewhere.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.bench.synthetic_lake import land_extraction, restamped, sandbox_items
from tm_pipeline.landing.lake import Lake, Manifest
from tm_pipeline.load.bookkeeping import FULL, INCREMENTAL
from tm_pipeline.load.raw_tables import LoadSummary
from tm_pipeline.load.warehouse_load import load_warehouse

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
# loaded_at says which load wrote a row, so it is the one column a rebuild must not reproduce.
TABLES = {
    "trackings": "SELECT * EXCLUDE (loaded_at) FROM raw.trackings ORDER BY ALL",
    "checkpoints": "SELECT * EXCLUDE (loaded_at) FROM raw.checkpoints ORDER BY ALL",
    "api_calls": "SELECT * FROM raw.api_calls ORDER BY ALL",
    "quarantine": "SELECT * FROM raw.quarantine ORDER BY ALL",
    "tracking_json": "SELECT * FROM raw.tracking_json ORDER BY ALL",
    "status_codes": "SELECT * FROM raw.status_codes ORDER BY ALL",
}


@pytest.fixture(scope="module")
def items() -> list[bytes]:
    """400 sandbox trackings as listed at T0, with their checkpoints."""
    return list(sandbox_items(400, seed=11, at=T0))


def _at(item: bytes, hours: float | None) -> bytes:
    return restamped(item, None if hours is None else T0 + timedelta(hours=hours))


def _extractions(items: list[bytes]) -> list[tuple[str, list[bytes], datetime, int]]:
    """(extraction id, items, fetched_at, page limit) in landing order; ids sort by start time like real ones."""
    return [
        ("20260301T000000Z-a", [_at(item, 1) for item in items[:300]], T0 + timedelta(hours=1), 120),
        # Newer states for 200..349: they win where they overlap.
        ("20260301T030000Z-b", [_at(item, 3) for item in items[200:350]], T0 + timedelta(hours=3), 100),
        # Fetched last but older than b's states for 200..249, newer than a's for 100..199: out of order.
        ("20260301T060000Z-c", [_at(item, 2) for item in items[100:250]], T0 + timedelta(hours=6), 80),
        # Never refreshed (null updated_at) loses to any refreshed copy; 350..399 are new trackings.
        ("20260301T090000Z-d", [_at(item, None) for item in items[320:400]], T0 + timedelta(hours=9), 50),
        # The same state as b for 300..309 (same updated_at), fetched later: the later fetch wins.
        ("20260301T120000Z-e", [_at(item, 3) for item in items[300:310]], T0 + timedelta(hours=12), 100),
    ]


def _load(database: Path, lake: Lake, full_load: bool = False) -> LoadSummary:
    with duckdb.connect(str(database)) as connection:
        return load_warehouse(connection, lake, full_load=full_load)


def _tables(database: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {name: connection.execute(sql).fetchall() for name, sql in TABLES.items()}


def _changed(database: Path) -> set[str]:
    """The trackings the last load changed, after checking that its raw rows say the same: exactly
    theirs carry the load's loaded_at (what the incremental models select them by)."""
    this_load = "loaded_at = (SELECT loaded_at FROM raw.load_info)"
    with duckdb.connect(str(database), read_only=True) as connection:
        def ids(sql: str) -> set[str]:
            return {row[0] for row in connection.execute(sql).fetchall()}

        changed = ids("SELECT tracking_id FROM raw.changed_trackings")
        stamped = ids(f"SELECT tracking_id FROM raw.trackings WHERE {this_load}")
        with_checkpoints = ids("SELECT DISTINCT tracking_id FROM raw.checkpoints")
        stamped_checkpoints = ids(f"SELECT DISTINCT tracking_id FROM raw.checkpoints WHERE {this_load}")
        (unstamped_of_changed,) = connection.execute(
            "SELECT count(*) FROM raw.checkpoints WHERE tracking_id IN (SELECT tracking_id FROM raw.changed_trackings) "
            f"AND NOT {this_load}"
        ).fetchall()[0]
    assert stamped == changed, "raw.trackings rows stamped with this load are not the changed trackings"
    assert stamped_checkpoints == changed & with_checkpoints, "raw.checkpoints stamped rows disagree"
    assert unstamped_of_changed == 0, "a changed tracking kept checkpoints from an earlier load"
    return changed


def _ids(items: list[bytes]) -> set[str]:
    return {json.loads(item)["id"] for item in items}


def _assert_same_tables(incremental: Path, full: Path) -> None:
    built, rebuilt = _tables(incremental), _tables(full)
    for name in TABLES:
        assert built[name] == rebuilt[name], f"raw.{name} differs between the incremental load and the full rebuild"


def test_incremental_loads_equal_a_full_rebuild_row_for_row(tmp_path: Path, items: list[bytes]) -> None:
    lake = Lake(tmp_path / "lake")
    incremental = tmp_path / "incremental.duckdb"
    modes, changed = [], []
    for extraction_id, landed, fetched_at, page_limit in _extractions(items):
        land_extraction(lake, extraction_id, landed, fetched_at, page_limit=page_limit)
        summary = _load(incremental, lake)
        modes.append(summary.mode)
        changed.append(_changed(incremental))
    full = tmp_path / "full.duckdb"
    rebuilt = _load(full, lake, full_load=True)

    assert modes == [FULL, INCREMENTAL, INCREMENTAL, INCREMENTAL, INCREMENTAL]
    assert rebuilt.mode == FULL and rebuilt.trackings == 400
    _assert_same_tables(incremental, full)
    # What each load hands the models: exactly the trackings whose winning row it changed.
    assert changed[1] == _ids(items[200:350])
    assert changed[2] == _ids(items[100:200]), "c's older states for 200..249 must not win over b's"
    assert changed[3] == _ids(items[350:400]), "a never-refreshed copy must not replace a refreshed one"
    assert changed[4] == _ids(items[300:310])
    with duckdb.connect(str(incremental), read_only=True) as connection:
        winners = dict(connection.execute("SELECT tracking_id, extraction_id FROM raw.trackings").fetchall())
    assert {winners[i] for i in _ids(items[300:310])} == {"20260301T120000Z-e"}


def test_a_repair_that_replaces_a_loaded_extraction_rebuilds_in_full(tmp_path: Path, items: list[bytes]) -> None:
    lake = Lake(tmp_path / "lake")
    incremental = tmp_path / "incremental.duckdb"
    manifests = {}
    for extraction_id, landed, fetched_at, page_limit in _extractions(items)[:3]:
        manifests[extraction_id] = land_extraction(lake, extraction_id, landed, fetched_at, page_limit=page_limit)
        _load(incremental, lake)
    # A repair re-extracts b with fewer trackings (some left the window) and deletes b's pages.
    repair = land_extraction(
        lake, "20260301T150000Z-r", [_at(item, 4) for item in items[200:260]], T0 + timedelta(hours=15)
    )
    lake.retire(repair, ["20260301T030000Z-b"])

    summary = _load(incremental, lake)
    full = tmp_path / "full.duckdb"
    _load(full, lake, full_load=True)

    assert summary.mode == FULL
    assert "no longer in the verified lake" in summary.full_reason
    assert "extraction=20260301T030000Z-b" in summary.full_reason
    _assert_same_tables(incremental, full)
    with duckdb.connect(str(incremental), read_only=True) as connection:
        from_b = connection.execute(
            "SELECT count(*) FROM raw.trackings WHERE extraction_id = '20260301T030000Z-b'"
        ).fetchall()
    assert from_b == [(0,)], "rows of a replaced extraction must leave raw.trackings"


def test_a_lost_build_file_is_rebuilt_in_full_from_the_lake(tmp_path: Path, items: list[bytes]) -> None:
    lake = Lake(tmp_path / "lake")
    incremental = tmp_path / "build" / "warehouse.duckdb"
    incremental.parent.mkdir()
    for extraction_id, landed, fetched_at, page_limit in _extractions(items)[:2]:
        land_extraction(lake, extraction_id, landed, fetched_at, page_limit=page_limit)
        _load(incremental, lake)
    before = _tables(incremental)
    shutil.rmtree(incremental.parent)
    incremental.parent.mkdir()

    summary = _load(incremental, lake)

    assert summary.mode == FULL and "no record of loaded files" in summary.full_reason
    assert _tables(incremental) == before
    assert _changed(incremental) == _ids(items[:350]), "after a full rebuild every tracking counts as changed"


def _first_extraction_loaded(tmp_path: Path, items: list[bytes]) -> tuple[Lake, Path, Manifest]:
    """A lake with the first extraction landed, loaded once into a new warehouse file."""
    lake = Lake(tmp_path / "lake")
    database = tmp_path / "warehouse.duckdb"
    extraction_id, landed, fetched_at, page_limit = _extractions(items)[0]
    manifest = land_extraction(lake, extraction_id, landed, fetched_at, page_limit=page_limit)
    _load(database, lake)
    return lake, database, manifest


def test_a_loaded_file_rewritten_in_place_is_caught_without_hashing_the_whole_lake(
    tmp_path: Path, items: list[bytes]
) -> None:
    """Same size, new bytes: the modification time gives it away, and the file is hashed again."""
    lake, database, manifest = _first_extraction_loaded(tmp_path, items)
    page = lake.page_path(manifest, 2)
    payload = bytearray(page.read_bytes())
    payload[300] ^= 0xFF
    page.write_bytes(bytes(payload))

    summary = _load(database, lake)

    assert [(problem.file, problem.kind) for problem in summary.audit.problems] == [(lake.relative(page), "checksum")]
    assert summary.mode == FULL, "a loaded file that is not as committed any more is not a pure addition"
    assert page not in summary.audit.trackings_files


def test_a_loaded_file_touched_but_unchanged_is_hashed_once_and_recorded_again(
    tmp_path: Path, items: list[bytes]
) -> None:
    """A restore from a backup that did not keep modification times: one re-hash, not one per run."""
    lake, database, manifest = _first_extraction_loaded(tmp_path, items)
    page = lake.page_path(manifest, 1)
    page.write_bytes(page.read_bytes())
    touched_ns = page.stat().st_mtime_ns

    summary = _load(database, lake)

    assert summary.mode == INCREMENTAL and not summary.audit.problems
    with duckdb.connect(str(database), read_only=True) as connection:
        recorded = connection.execute(
            "SELECT mtime_ns FROM raw.loaded_files WHERE file = ?", [lake.relative(page)]
        ).fetchall()
    assert recorded == [(touched_ns,)]


def test_replaced_rows_are_counted_until_a_tenth_of_the_table_then_vacuumed(tmp_path: Path, items: list[bytes]) -> None:
    """Checkpoints do not vacuum (it rewrites every row group a few deletes touched); the load asks
    for one when the rows it deleted since the last one reach a tenth of the table."""
    lake = Lake(tmp_path / "lake")
    database = tmp_path / "warehouse.duckdb"
    land_extraction(lake, "20260301T000000Z-a", [_at(item, 1) for item in items], T0)
    _load(database, lake)

    def deleted_since_vacuum() -> int:
        with duckdb.connect(str(database), read_only=True) as connection:
            return connection.execute("SELECT rows_deleted_since_vacuum FROM raw.load_info").fetchall()[0][0]

    with duckdb.connect(str(database), read_only=True) as connection:
        (replaced,) = connection.execute(
            "SELECT count(*) FROM raw.checkpoints WHERE tracking_id IN (SELECT unnest(?))",
            [sorted(_ids(items[:3]))],
        ).fetchall()[0]
    land_extraction(lake, "20260301T030000Z-b", [_at(item, 2) for item in items[:3]], T0 + timedelta(hours=3))
    _load(database, lake)
    assert deleted_since_vacuum() == 3 + replaced

    land_extraction(lake, "20260301T060000Z-c", [_at(item, 3) for item in items[:200]], T0 + timedelta(hours=6))
    _load(database, lake)
    assert deleted_since_vacuum() == 0


def test_two_accounts_load_incrementally_and_equal_a_full_rebuild(tmp_path: Path, items: list[bytes]) -> None:
    """Each account's lake is its own (`lake/` and `lake/account=brand_a/`), with the same tracking
    ids and even the same extraction ids: the incremental load keys trackings by (account,
    tracking_id), tells the accounts' files apart in raw.loaded_files, and hands the models the
    changed (account, tracking_id) pairs."""
    top, brand_a = Lake(tmp_path / "lake"), Lake(tmp_path / "lake" / "account=brand_a")
    lakes = [("default", "", top), ("brand_a", "account=brand_a", brand_a)]
    incremental = tmp_path / "incremental.duckdb"

    def load(database: Path, full_load: bool = False) -> LoadSummary:
        with duckdb.connect(str(database)) as connection:
            return load_warehouse(connection, lakes, full_load=full_load)

    def changed_pairs() -> set[tuple[str, str]]:
        with duckdb.connect(str(incremental), read_only=True) as connection:
            return set(connection.execute("SELECT account, tracking_id FROM raw.changed_trackings").fetchall())

    first = "20260301T000000Z-a"
    land_extraction(top, first, [_at(item, 1) for item in items[:200]], T0 + timedelta(hours=1))
    land_extraction(brand_a, first, [_at(item, 1) for item in items[:100]], T0 + timedelta(hours=1))
    assert load(incremental).mode == FULL
    # Newer states of 50..149 in brand_a only: the default account's rows of the same ids stay.
    land_extraction(brand_a, "20260301T030000Z-b", [_at(item, 3) for item in items[50:150]], T0 + timedelta(hours=3))
    merged = load(incremental)
    full = tmp_path / "full.duckdb"
    rebuilt = load(full, full_load=True)

    assert merged.mode == INCREMENTAL, merged.full_reason
    assert changed_pairs() == {("brand_a", tracking_id) for tracking_id in _ids(items[50:150])}
    assert rebuilt.trackings == 200 + 150 == merged.trackings
    _assert_same_tables(incremental, full)
    with duckdb.connect(str(incremental), read_only=True) as connection:
        loaded = {row[0] for row in connection.execute("SELECT file FROM raw.loaded_files").fetchall()}
        json_rows = connection.execute("SELECT count(*) FROM raw.tracking_json").fetchall()[0][0]
    assert any(f.startswith(f"trackings/window=updated/extraction={first}/") for f in loaded)
    assert any(f.startswith(f"account=brand_a/trackings/window=updated/extraction={first}/") for f in loaded)
    assert json_rows == merged.trackings, "raw.tracking_json reads each account's winners from its own lake"
