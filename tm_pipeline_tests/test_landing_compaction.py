"""Lake compaction keeps every row, commits atomically and leaves the load's result unchanged.

Each test copies the session's landed sandbox sync (conftest `landed_sync`: a real full extraction over
HTTP) and adds small `updated` extractions through the Lake API (what 3-hourly syncs leave behind:
later versions of some trackings, each with its ledger part). The load is the real one, into real
DuckDB files; the Dagster test materializes the real compaction asset and the real load/models/publish.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tm_pipeline.extract.run import new_extraction_id, sync_state
from tm_pipeline.landing.compaction import compact_lake
from tm_pipeline.landing.integrity import CHECKSUM, audit_lake
from tm_pipeline.landing.lake import COMPACTED, COMPACTION, COMPLETE, FAILED, Lake, Manifest
from tm_pipeline.load.bookkeeping import FULL, INCREMENTAL
from tm_pipeline.load.raw_tables import load_raw_tables
from tm_pipeline.load.warehouse_load import load_warehouse
from tm_pipeline.maintenance.assets import LAKE_COMPACTION, CompactionConfig, compact_account_lakes
from tm_pipeline.resources import LakeResource
from tm_pipeline.runs import materialize_all
from tm_pipeline.sandbox import SandboxServer
from tm_pipeline_tests.conftest import sandbox_resources
from tm_pipeline_tests.lake_fixtures import LOAD_ONLY, flip_bytes_inside, query

SMALL_EXTRACTIONS = 6
ROWS_EACH = 40
RAW_TABLES = ("trackings", "checkpoints", "api_calls", "quarantine", "tracking_json")


def raw_rows(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """A raw table's rows, sorted, without `loaded_at`: which load wrote a row is not its content."""
    stamped = table in ("trackings", "checkpoints")
    return connection.execute(
        f"SELECT *{' EXCLUDE (loaded_at)' if stamped else ''} FROM raw.{table} ORDER BY ALL"
    ).fetchall()


def _replaced(table: pa.Table, column: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    field = table.schema.field(column)
    return table.set_column(table.schema.get_field_index(column), field, values.cast(field.type))


def add_small_extractions(lake: Lake, count: int, rows_each: int, status: str = COMPLETE) -> list[Manifest]:
    """`count` extractions of the `updated` window, each re-landing `rows_each` trackings of the full
    extraction as newer versions (updated_at and fetched_at moved on), with one ledger row each."""
    (full,) = [m for m in lake.manifests() if m.window_key == "full"]
    landed = pq.read_table(lake.page_path(full, 1))
    ledger = pq.read_table(next(lake.calls_dir(full.extraction_id).glob("*.parquet")))
    added = []
    for index in range(count):
        manifest = Manifest(new_extraction_id(), "updated", {"update_time_min": 1000 + index, "limit": 2000})
        rows = landed.slice(index * rows_each, rows_each)
        later = timedelta(hours=index + 1)
        rows = _replaced(rows, "extraction_id", pa.array([manifest.extraction_id] * rows.num_rows))
        for column in ("updated_at", "fetched_at"):
            rows = _replaced(rows, column, pc.add(rows[column], pa.scalar(later, pa.duration("us"))))
        # Its one call, as the API answered it: `rows_each` items of a total of `rows_each`.
        calls = ledger.slice(0, 1)
        for column, value in (("extraction_id", manifest.extraction_id), ("run_id", f"run-{manifest.extraction_id}"),
                              ("window_key", "updated"), ("rows", rows_each), ("total_reported", rows_each)):
            calls = _replaced(calls, column, pa.array([value]))
        calls = _replaced(calls, "requested_at", pc.add(calls["requested_at"], pa.scalar(later, pa.duration("us"))))
        manifest.max_updated_at = 2_000_000_000 + index
        lake.commit_page(manifest, 1, rows, calls)
        manifest.status = status
        lake.save_manifest(manifest)
        added.append(manifest)
    return added


@pytest.fixture
def lake_copy(landed_sync: tuple[Path, str], tmp_path: Path) -> tuple[Path, Lake]:
    template, _ = landed_sync
    data_dir = tmp_path / "data"
    shutil.copytree(template, data_dir)
    return data_dir, Lake(data_dir / "lake")


def raw_contents(lake: Lake, database: Path) -> dict[str, list[tuple]]:
    """Every raw table (and the JSON view) after a fresh full load of `lake`, sorted."""
    database.unlink(missing_ok=True)
    with duckdb.connect(str(database)) as connection:
        summary = load_raw_tables(connection, lake)
        assert not summary.audit.problems, summary.audit.problems
        return {table: raw_rows(connection, table) for table in RAW_TABLES}


def lake_files(lake: Lake) -> list[Path]:
    return sorted(lake.root.glob("trackings/*/*/*.parquet")) + sorted(lake.root.glob("api_calls/*/*.parquet"))


def test_compaction_keeps_every_version_and_the_load_is_identical(lake_copy: tuple[Path, Lake], tmp_path: Path) -> None:
    _, lake = lake_copy
    add_small_extractions(lake, SMALL_EXTRACTIONS, ROWS_EACH)
    before = raw_contents(lake, tmp_path / "before.duckdb")
    rows_landed_before = sum(m.rows for m in lake.manifests())

    summary = compact_lake(lake)

    assert summary.extractions_compacted == SMALL_EXTRACTIONS  # the updated window; the lone full one stays
    assert summary.rows == SMALL_EXTRACTIONS * ROWS_EACH
    (compaction,) = [m for m in lake.manifests() if m.kind == COMPACTION]
    parts_rows = sum(part["rows"] for name, part in compaction.parts.items() if name.startswith("trackings/"))
    assert parts_rows == SMALL_EXTRACTIONS * ROWS_EACH  # every version kept, none dropped
    audit = audit_lake(lake)
    assert not audit.problems and not audit.strays
    assert sum(pq.read_metadata(path).num_rows for path in audit.trackings_files) == rows_landed_before
    assert raw_contents(lake, tmp_path / "after.duckdb") == before
    members = [m for m in lake.manifests() if m.extraction_id in compaction.compacts]
    assert {(m.status, m.compacted_into) for m in members} == {(COMPACTED, compaction.extraction_id)}


def test_next_run_deletes_the_compacted_files_and_keeps_watermarks(
    lake_copy: tuple[Path, Lake], tmp_path: Path
) -> None:
    _, lake = lake_copy
    add_small_extractions(lake, SMALL_EXTRACTIONS, ROWS_EACH)
    before = raw_contents(lake, tmp_path / "before.duckdb")
    state_before = sync_state(lake.manifests())
    files_before = lake_files(lake)

    compact_lake(lake)
    assert all(path.exists() for path in files_before)  # a load may still be reading them
    second = compact_lake(lake)

    # full: 3 pages + its ledger parts stay; updated: 6 pages + 6 ledger parts become 2 parts.
    assert second.files_deleted == 2 * SMALL_EXTRACTIONS and second.compactions == []
    assert len(lake_files(lake)) == len(files_before) - 2 * SMALL_EXTRACTIONS + 2
    assert raw_contents(lake, tmp_path / "after.duckdb") == before
    assert sync_state(lake.manifests()) == state_before


def test_running_failed_and_damaged_extractions_are_not_compacted(lake_copy: tuple[Path, Lake]) -> None:
    _, lake = lake_copy
    complete = add_small_extractions(lake, 3, ROWS_EACH)
    (failed,) = add_small_extractions(lake, 1, ROWS_EACH, status=FAILED)
    damaged = complete[0]
    flip_bytes_inside(lake.page_path(damaged, 1))

    summary = compact_lake(lake)

    (compaction,) = [m for m in lake.manifests() if m.kind == COMPACTION]
    assert sorted(compaction.compacts) == sorted(m.extraction_id for m in complete[1:])
    assert "SHA-256" in summary.skipped[damaged.extraction_id]
    assert "failed" in summary.skipped[failed.extraction_id]
    assert {m.extraction_id: m.status for m in lake.manifests()}[failed.extraction_id] == FAILED


class Killed(Exception):
    """Raised in place of a crash at a chosen step."""


@pytest.mark.parametrize("kill_at", ["part_written", "committed", "one_marked"])
def test_a_killed_compaction_loses_and_doubles_nothing_and_the_rerun_completes_it(
    lake_copy: tuple[Path, Lake], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_at: str
) -> None:
    """Kill points are simulated by raising at each step (after the first part is written; right after
    the compaction manifest is saved; after one compacted manifest is marked), not with a real process kill:
    each step is one atomic file write, so raising between two writes leaves exactly what a kill would."""
    _, lake = lake_copy
    add_small_extractions(lake, SMALL_EXTRACTIONS, ROWS_EACH)
    before = raw_contents(lake, tmp_path / "before.duckdb")
    real_write_part, real_save = Lake.write_part, Lake.save_manifest
    saved_after_commit: list[str] = []

    def write_part(self: Lake, path: Path, payload: bytes) -> None:
        real_write_part(self, path, payload)
        if kill_at == "part_written":
            raise Killed

    def save_manifest(self: Lake, manifest: Manifest) -> None:
        real_save(self, manifest)
        if manifest.kind == COMPACTION and kill_at == "committed":
            raise Killed
        if manifest.status == COMPACTED:
            saved_after_commit.append(manifest.extraction_id)
            if kill_at == "one_marked":
                raise Killed

    monkeypatch.setattr(Lake, "write_part", write_part)
    monkeypatch.setattr(Lake, "save_manifest", save_manifest)
    with pytest.raises(Killed):
        compact_lake(lake)
    monkeypatch.undo()

    assert raw_contents(lake, tmp_path / "killed.duckdb") == before  # nothing lost, nothing loaded twice
    rerun = compact_lake(lake)
    compactions = [m for m in lake.manifests() if m.kind == COMPACTION]
    assert len(compactions) == 1
    members = [m for m in lake.manifests() if m.extraction_id in compactions[0].compacts]
    assert len(members) == SMALL_EXTRACTIONS and {m.status for m in members} == {COMPACTED}
    if kill_at == "part_written":
        assert rerun.uncommitted_parts_removed and rerun.compactions  # restarted from scratch
    else:
        assert rerun.marks_completed == SMALL_EXTRACTIONS - len(saved_after_commit) and not rerun.compactions
    audit = audit_lake(lake)
    assert not audit.problems and not audit.strays
    assert raw_contents(lake, tmp_path / "after.duckdb") == before


def test_a_damaged_part_is_caught_and_repaired_through_the_compacted_extractions(
    lake_copy: tuple[Path, Lake],
) -> None:
    _, lake = lake_copy
    added = add_small_extractions(lake, 3, ROWS_EACH)
    compact_lake(lake)
    (compaction,) = [m for m in lake.manifests() if m.kind == COMPACTION]
    part = next(name for name in compaction.parts if name.startswith("trackings/"))
    flip_bytes_inside(lake.root / part)

    audit = audit_lake(lake)

    assert [(p.file, p.kind) for p in audit.problems] == [(part, CHECKSUM)]
    repairable = audit.damaged_extractions()
    assert sorted(m.extraction_id for m in repairable) == sorted(m.extraction_id for m in added)
    assert all(m.params["limit"] == 2000 for m in repairable)  # re-extracted with their own params
    # Once every compacted extraction is re-extracted, the compaction is retired with the last.
    repair = Manifest(new_extraction_id(), "updated", {}, status=COMPLETE)
    lake.retire(repair, [m.extraction_id for m in repairable])
    assert not (lake.root / part).exists()
    assert not audit_lake(lake).page_problems


def _rounded(rows: list[tuple]) -> list[tuple]:
    """Averages to 9 decimals: DuckDB's parallel sums differ in the last bits from one build to the next."""
    return [tuple(round(value, 9) if isinstance(value, float) else value for value in row) for row in rows]


def test_compaction_asset_runs_in_dagster_and_the_marts_are_unchanged(
    lake_copy: tuple[Path, Lake], sandbox: SandboxServer, landed_sync: tuple[Path, str]
) -> None:
    data_dir, lake = lake_copy
    resources = sandbox_resources(sandbox, landed_sync[1], data_dir)
    add_small_extractions(lake, SMALL_EXTRACTIONS, ROWS_EACH)
    assert materialize_all(resources, data_dir, selection=LOAD_ONLY).success
    marts = ["fct_shipments", "delivery_time_by_carrier", "exception_rate_by_carrier", "stuck_shipments"]
    published = data_dir / "warehouse.duckdb"
    before = {mart: _rounded(query(published, f"SELECT * FROM main.{mart} ORDER BY ALL")) for mart in marts}

    result = materialize_all(resources, data_dir, selection=dg.AssetSelection.assets(LAKE_COMPACTION))
    assert result.success
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == LAKE_COMPACTION]
    assert event.materialization.metadata["extractions_compacted"].value == SMALL_EXTRACTIONS
    assert materialize_all(resources, data_dir, selection=LOAD_ONLY).success

    assert {mart: _rounded(query(published, f"SELECT * FROM main.{mart} ORDER BY ALL")) for mart in marts} == before
    assert all(before.values())


def test_compaction_runs_over_each_account_lake_and_the_incremental_load_stays_incremental(
    lake_copy: tuple[Path, Lake], tmp_path: Path
) -> None:
    """The compaction asset's body over two account lakes (the default `lake/` and
    `lake/account=brand_a/`): each is compacted against its own manifests, and a warehouse that
    had loaded both records the parts as loaded without a full rebuild or any change to raw.*."""
    data_dir, top = lake_copy
    brand_a = Lake(top.root / "account=brand_a")
    for folder in ("manifests", "trackings", "api_calls"):
        shutil.copytree(top.root / folder, brand_a.root / folder)
    for lake in (top, brand_a):
        add_small_extractions(lake, SMALL_EXTRACTIONS, ROWS_EACH)
    lakes = [("default", "", top), ("brand_a", "account=brand_a", brand_a)]
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        assert load_warehouse(connection, lakes).mode == FULL
        before = {table: raw_rows(connection, table) for table in RAW_TABLES}

    metadata = compact_account_lakes(
        LakeResource(root=str(top.root)), [(account, prefix) for account, prefix, _ in lakes], CompactionConfig(),
        logging.getLogger(__name__),
    )

    assert metadata["extractions_compacted"] == 2 * SMALL_EXTRACTIONS
    assert len(metadata["compactions"]) == 2
    assert sum(c.startswith("account=brand_a/") for c in metadata["compactions"]) == 1
    for lake in (top, brand_a):
        (compaction,) = [m for m in lake.manifests() if m.kind == COMPACTION]
        assert len(compaction.compacts) == SMALL_EXTRACTIONS, lake.root
    with duckdb.connect(str(database)) as connection:
        summary = load_warehouse(connection, lakes)
        after = {table: raw_rows(connection, table) for table in RAW_TABLES}
    assert summary.mode == INCREMENTAL, summary.full_reason
    assert summary.trackings_changed == 0
    assert after == before
