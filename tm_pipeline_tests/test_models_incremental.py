"""Incremental models: after every load in a sequence, the incrementally built warehouse equals a
warehouse built whole from the same raw tables, model for model and row for row.

The raw tables are hand-built states (tm_pipeline_tests/raw_rows.py); between two states,
tm_pipeline/bench/load_changes.py writes raw.changed_trackings and raw.load_info as the load step's
contract says, from the difference. The sequence holds what an incremental merge can get wrong:
overlapping trackings changed in several loads, an out-of-order update (older than the data's
clock), new trackings, status changes that move a tracking between the marts' groups, a tracking
whose new version lost all its checkpoints, and a full load that drops a tracking.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tm_pipeline.bench.load_changes import fingerprint_raw, record_load
from tm_pipeline.models import data_tests
from tm_pipeline.models.data_tests import compile_tests, run_test
from tm_pipeline.models.project import load_project
from tm_pipeline.models.runner import MERGED_LOADS, BuildResult, build_all, build_model
from tm_pipeline_tests.raw_rows import checkpoint_row, create_raw_tables, insert_rows, tracking_row

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"
PROJECT = load_project(SQL_DIR)
INCREMENTAL_MODELS = {name for name, model in PROJECT.models.items() if model.materialized == "incremental"}
# Columns two builds of the same data never agree on: current_timestamp, and which load wrote a raw row.
BUILD_TIME_COLUMNS = {"data_as_of": {"built_at"}, "stg_trackings": {"loaded_at"}, "stg_checkpoints": {"loaded_at"}}
LOADED_AT = datetime(2024, 3, 10, 12, 0)
UTC = timezone.utc

Rows = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # (trackings, checkpoints)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def scan(tracking_id: str, when: str, status: str, position: int, item_node: str | None = None) -> dict[str, Any]:
    return {**checkpoint_row(tracking_id, when, status, position=position), "item_node": item_node}


def first_load() -> Rows:
    trackings = [
        tracking_row("A", carrier_code="ups", status="transit", updated_at=at(4)),
        tracking_row("B", carrier_code="ups", status="delivered", updated_at=at(5)),
        tracking_row("C", carrier_code="usps", status="exception", destination_country="Germany", updated_at=at(5)),
        tracking_row("D", carrier_code="dhl", status="transit", original_country="Germany", updated_at=at(5)),
        tracking_row("E", carrier_code="fedex", status="pending", updated_at=at(2)),
        tracking_row("F", carrier_code="usps", status="transit", updated_at=at(3)),
    ]
    checkpoints = [
        scan("A", "2024-03-01 09:00:00", "transit", 0, "ItemReceived"),
        scan("B", "2024-03-01 10:00:00", "transit", 0, "ItemReceived"),
        scan("B", "2024-03-04 08:00", "pickup", 1),
        scan("B", "2024-03-04 12:00", "undelivered", 2),
        scan("B", "2024-03-05 09:00", "delivered", 3),
        scan("C", "2024-03-02 00:00", "exception", 0),
        scan("D", "2024-03-01 00:00", "transit", 0, "ItemReceived"),
        scan("D", "2024-03-02 00:00", "transit", 1),
        scan("F", "2024-03-02 00:00", "transit", 0, "ItemReceived"),
    ]
    return trackings, checkpoints


def second_load() -> Rows:
    """A delivered (moves from transit to delivered groups, gets a delivered month); D's new
    version has no checkpoints; F updated but older than the data's clock; G new; the clock moves
    a week on, so the active ones left alone (E) change their as-of columns."""
    trackings, checkpoints = first_load()
    trackings = [row for row in trackings if row["tracking_id"] not in ("A", "D", "F")] + [
        tracking_row("A", carrier_code="ups", status="delivered", updated_at=at(8)),
        tracking_row("D", carrier_code="dhl", status="pending", original_country="Germany", updated_at=at(9)),
        tracking_row("F", carrier_code="usps", status="pickup", updated_at=at(3, 6)),
        tracking_row("G", carrier_code="dhl", status="transit", destination_country="Germany", updated_at=at(12)),
    ]
    checkpoints = [row for row in checkpoints if row["tracking_id"] != "D"] + [
        scan("A", "2024-03-06 08:00", "pickup", 1),
        scan("A", "2024-03-07 10:00", "delivered", 2),
        scan("F", "2024-03-03 05:00", "pickup", 1),
        scan("G", "2024-03-11 00:00", "transit", 0, "ItemReceived"),
    ]
    return trackings, checkpoints


def third_load() -> Rows:
    """A again (an exception after delivery: it leaves the delivered groups), B's destination
    corrected (another lane), C expired (no longer active), H new; the clock moves again."""
    trackings, checkpoints = second_load()
    replaced = {"A", "B", "C"}
    trackings = [row for row in trackings if row["tracking_id"] not in replaced] + [
        tracking_row("A", carrier_code="ups", status="exception", updated_at=at(14)),
        tracking_row("B", carrier_code="ups", status="delivered", destination_country="Canada", updated_at=at(14)),
        tracking_row("C", carrier_code="usps", status="expired", destination_country="Germany", updated_at=at(15)),
        tracking_row("H", carrier_code="fedex", status="transit", updated_at=at(16)),
    ]
    checkpoints = checkpoints + [
        scan("A", "2024-03-13 10:00", "exception", 3),
        scan("H", "2024-03-15 10:00", "transit", 0, "ItemReceived"),
    ]
    return trackings, checkpoints


def repair_load() -> Rows:
    """A full load after a repair: G is gone from the lake (an accepted loss), so from raw."""
    trackings, checkpoints = third_load()
    return [r for r in trackings if r["tracking_id"] != "G"], [r for r in checkpoints if r["tracking_id"] != "G"]


def put_raw(connection: duckdb.DuckDBPyConnection, rows: Rows) -> None:
    create_raw_tables(connection)
    trackings, checkpoints = rows
    insert_rows(connection, "trackings", trackings)
    insert_rows(connection, "checkpoints", checkpoints)


def load(connection: duckdb.DuckDBPyConnection, rows: Rows, mode: str, loaded_at: datetime) -> int:
    """Replace raw.* by `rows` as a load would, and write the load's contract tables."""
    if mode == "incremental":
        fingerprint_raw(connection)
    put_raw(connection, rows)
    return record_load(connection, mode, loaded_at)


def built_whole(tmp_path: Path, rows: Rows, name: str) -> duckdb.DuckDBPyConnection:
    """A fresh warehouse holding `rows`, every model built from scratch (a full load)."""
    connection = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
    put_raw(connection, rows)
    record_load(connection, "full", LOADED_AT)
    build_all(connection, PROJECT)
    return connection


def differences(incremental: duckdb.DuckDBPyConnection, whole_path: Path) -> dict[str, str]:
    """Models whose columns or rows (as multisets, exact) differ between the two warehouses."""
    incremental.execute(f"attach '{whole_path}' as whole (read_only)")
    found = {}
    try:
        for name in PROJECT.models:
            columns = incremental.execute(f"describe main.{name}").fetchall()
            whole_columns = incremental.execute(f"describe whole.main.{name}").fetchall()
            if [c[:2] for c in columns] != [c[:2] for c in whole_columns]:
                found[name] = "columns differ"
                continue
            compared = ", ".join(f'"{c[0]}"' for c in columns if c[0] not in BUILD_TIME_COLUMNS.get(name, set()))
            for one, other in (("main", "whole.main"), ("whole.main", "main")):
                extra = incremental.execute(
                    f"select {compared} from {one}.{name} except all select {compared} from {other}.{name}"
                ).fetchall()
                if extra:
                    found[name] = f"rows only in {one}: {extra[:3]}"
    finally:
        incremental.execute("detach whole")
    return found


def merged(results: list[BuildResult]) -> dict[str, int | None]:
    return {result.model: result.rows_merged for result in results if result.merged}


LOADS: list[tuple[str, Callable[[], Rows]]] = [
    ("full", first_load), ("incremental", second_load), ("incremental", third_load), ("full", repair_load)
]


def test_every_load_of_a_sequence_builds_incrementally_into_the_same_tables_as_a_full_build(tmp_path):
    connection = duckdb.connect(str(tmp_path / "incremental.duckdb"))
    for number, (mode, state) in enumerate(LOADS, start=1):
        changed = load(connection, state(), mode, LOADED_AT + timedelta(hours=3 * number))
        results = build_all(connection, PROJECT)
        if mode == "incremental":
            # the per-tracking models merged exactly the changed trackings (the journeys also
            # their active ones), the rest were rebuilt whole
            assert set(merged(results)) == INCREMENTAL_MODELS, number
            assert merged(results)["fct_shipments"] == merged(results)["int_shipment_milestones"] == changed > 0
        else:
            assert merged(results) == {}, number
        whole = built_whole(tmp_path, state(), f"whole_{number}")
        whole.close()
        assert differences(connection, tmp_path / f"whole_{number}.duckdb") == {}, f"after load {number} ({mode})"
    # the repair's full load removed G everywhere
    assert connection.execute("select count(*) from main.fct_shipment_journeys where tracking_id = 'G'").fetchall() == [
        (0,)
    ]
    connection.close()


def test_the_changed_set_is_what_moved_and_the_active_journeys_follow_the_clock(tmp_path):
    """Witnesses that the sequence exercises what it claims: the changed set of load 2, and E
    (unchanged, active) whose days without news grew with the clock, rebuilt by the merge."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(connection, first_load(), "full", LOADED_AT)
    build_all(connection, PROJECT)
    silence_before = connection.execute(
        "select days_since_last_checkpoint, promise_business_days_left from main.fct_shipment_journeys "
        "where tracking_id = 'F'"
    ).fetchall()
    load(connection, second_load(), "incremental", LOADED_AT + timedelta(hours=3))
    changed = {row[0] for row in connection.execute("select tracking_id from raw.changed_trackings").fetchall()}
    assert changed == {"A", "D", "F", "G"}
    build_all(connection, PROJECT)
    rows = dict(connection.execute(
        "select tracking_id, data_as_of from main.fct_shipment_journeys where tracking_id in ('B', 'E')"
    ).fetchall())
    assert rows == {"B": None, "E": datetime(2024, 3, 12)}  # finished: no clock; active: the new clock
    assert connection.execute(
        "select checkpoints, is_scanned from main.fct_shipments where tracking_id = 'D'"
    ).fetchall() == [(0, False)]
    assert silence_before != connection.execute(
        "select days_since_last_checkpoint, promise_business_days_left from main.fct_shipment_journeys "
        "where tracking_id = 'F'"
    ).fetchall()
    connection.close()


def test_a_model_that_missed_a_load_is_rebuilt_whole_and_catches_up(tmp_path):
    """A run that stopped after the first models (a failed blocking check, say): on the next
    load, the models that never merged the previous one are rebuilt, the others merge."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(connection, first_load(), "full", LOADED_AT)
    build_all(connection, PROJECT)
    load(connection, second_load(), "incremental", LOADED_AT + timedelta(hours=3))
    for name in ("stg_checkpoints", "stg_trackings", "int_shipment_milestones"):  # the run stops here
        build_model(connection, PROJECT.models[name])
    load(connection, third_load(), "incremental", LOADED_AT + timedelta(hours=6))
    assert set(merged(build_all(connection, PROJECT))) == {"int_shipment_milestones"}
    built_whole(tmp_path, third_load(), "whole").close()
    assert differences(connection, tmp_path / "whole.duckdb") == {}
    connection.close()


def test_full_refresh_rebuilds_every_incremental_model_whole(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(connection, first_load(), "full", LOADED_AT)
    build_all(connection, PROJECT)
    load(connection, second_load(), "incremental", LOADED_AT + timedelta(hours=3))
    assert merged(build_all(connection, PROJECT, full_refresh=True)) == {}
    assert connection.execute(f"select count(*) from {MERGED_LOADS}").fetchall()[0][0] == 2 * len(INCREMENTAL_MODELS)
    connection.close()


def test_without_load_info_the_models_are_built_whole(tmp_path):
    """A load from before the contract (no raw.load_info): nothing says what changed, so nothing merges."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    put_raw(connection, first_load())
    build_all(connection, PROJECT)
    put_raw(connection, second_load())
    assert merged(build_all(connection, PROJECT)) == {}
    built_whole(tmp_path, second_load(), "whole").close()
    assert differences(connection, tmp_path / "whole.duckdb") == {}
    connection.close()


@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_record_load_writes_the_contract_tables(tmp_path, mode):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        put_raw(connection, first_load())
        count = load(connection, second_load(), mode, LOADED_AT)
        assert connection.execute("select mode, loaded_at from raw.load_info").fetchall() == [(mode, LOADED_AT)]
        assert count == (4 if mode == "incremental" else 7)


def outcomes(connection: duckdb.DuckDBPyConnection) -> dict[str, data_tests.TestOutcome]:
    return {test.name: run_test(connection, test, incremental=True) for test in compile_tests(PROJECT)}


def test_per_row_tests_check_only_the_changed_trackings_rows_until_one_fails(tmp_path):
    """An unparseable checkpoint date arrives with a changed tracking: the per-row test over the
    changed rows finds it. On the next load, which does not touch that tracking, the test runs
    whole again (it failed last time), so the fault is still reported; tests that compare
    trackings (unique over other columns, the marts' grains) always run whole."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(connection, first_load(), "full", LOADED_AT)
    build_all(connection, PROJECT)
    first = outcomes(connection)
    assert not any(outcome.changed_rows_only for outcome in first.values())
    assert all(outcome.passed for name, outcome in first.items() if name.startswith("not_null_stg"))

    trackings, checkpoints = second_load()
    broken = (trackings, [*checkpoints, scan("G", "next tuesday", "transit", 1)])
    load(connection, broken, "incremental", LOADED_AT + timedelta(hours=3))
    build_all(connection, PROJECT)
    second = outcomes(connection)
    restricted = {name for name, outcome in second.items() if outcome.changed_rows_only}
    assert "not_null_stg_checkpoints_checkpoint_at" in restricted
    assert "assert_checkpoint_times_not_in_future" in restricted
    # per tracking on the incremental models, which merged only the changed trackings' rows
    assert {"unique_int_shipment_journeys_account_tracking_id", "unique_stg_trackings_account_tracking_id",
            "not_null_int_shipment_journeys_carrier_code", "assert_journey_lead_times_in_range"} <= restricted
    # tests that compare trackings, on the key itself, or on a model that is not kept by tracking
    assert "relationships_stg_checkpoints_tracking_id" in restricted  # a parent tracking is never removed
    assert not any(name.startswith(("not_null_stg_trackings_tracking_id",
                                    "unique_fct_shipment_journeys", "unique_lead_time_by_carrier"))
                   for name in restricted)
    assert second["not_null_stg_checkpoints_checkpoint_at"].failures == 1
    assert second["not_null_stg_checkpoints_checkpoint_at"].samples[0]["tracking_id"] == "G"

    trackings, checkpoints = third_load()
    load(connection, (trackings, [*checkpoints, scan("G", "next tuesday", "transit", 1)]), "incremental",
         LOADED_AT + timedelta(hours=6))
    assert "G" not in {row[0] for row in connection.execute("select tracking_id from raw.changed_trackings").fetchall()}
    build_all(connection, PROJECT)
    third = outcomes(connection)
    still = third["not_null_stg_checkpoints_checkpoint_at"]
    assert (still.changed_rows_only, still.failures) == (False, 1)
    assert third["assert_checkpoint_times_not_in_future"].changed_rows_only  # it passed last time
    # every restricted verdict equals the whole test's on the same tables
    whole = {test.name: run_test(connection, test) for test in compile_tests(PROJECT)}
    assert {name: outcome.passed for name, outcome in third.items()} == {
        name: outcome.passed for name, outcome in whole.items()
    }
    connection.close()


CONFIG = "materialized='incremental', unique_key=['account', 'tracking_id'], incremental_strategy='delete+insert'"
CONFINED_MODEL = "{{ config(" + CONFIG + """) }}
select account, tracking_id, note from {{ source('raw', 'notes') }}
{% if is_incremental() %}
where FILTER
{% endif %}
"""
CONFINED_SCHEMA = """version: 2
sources:
  - name: raw
    tables: [{name: notes}, {name: changed_trackings}]
models:
  - name: notes
    data_tests:
      - unique: {arguments: {column_name: "row(account, tracking_id)"}, config: {severity: error}}
    columns:
      - name: note
        data_tests: [{not_null: {config: {severity: error}}}]
"""
CHANGED_ONLY = "(account, tracking_id) in (select (account, tracking_id) from {{ source('raw', 'changed_trackings') }})"


def notes_project(root: Path, merge_filter: str) -> Any:
    (root / "marts").mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text('model-paths: ["marts"]\n')
    (root / "marts" / "notes.sql").write_text(CONFINED_MODEL.replace("FILTER", merge_filter))
    (root / "marts" / "schema.yml").write_text(CONFINED_SCHEMA)
    return load_project(root)


def notes_load(connection: duckdb.DuckDBPyConnection, notes: list[tuple[str, str | None]], changed: list[str],
               loaded_at: datetime) -> None:
    connection.execute("create schema if not exists raw")
    connection.execute("create or replace table raw.notes (account varchar, tracking_id varchar, note varchar)")
    connection.executemany("insert into raw.notes values ('default', ?, ?)", notes)
    connection.execute("create or replace table raw.changed_trackings (account varchar, tracking_id varchar)")
    connection.executemany("insert into raw.changed_trackings values ('default', ?)", [[key] for key in changed])
    mode = "incremental" if changed != [key for key, _ in notes] else "full"
    connection.execute(
        "create or replace table raw.load_info as select cast(? as varchar) as mode, cast(? as timestamp) as loaded_at",
        [mode, loaded_at],
    )


def verdicts(connection: duckdb.DuckDBPyConnection, project: Any) -> dict[str, tuple[bool, int]]:
    tests = compile_tests(project)
    return {
        test.name.split("_")[0]: (outcome.changed_rows_only, outcome.failures)
        for test, outcome in zip(tests, data_tests.run_tests(connection, tests, incremental=True), strict=True)
    }


def test_a_merge_confined_to_the_changed_trackings_lets_its_tests_check_their_rows_only(tmp_path):
    """The runner records that the merge touched only changed trackings; the unique test over the
    changed rows still sees a duplicate the merge brought (both rows are the changed tracking's)."""
    project = notes_project(tmp_path / "sql", CHANGED_ONLY)
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    notes_load(connection, [("A", "a"), ("B", "b")], ["A", "B"], LOADED_AT)
    build_all(connection, project)
    assert verdicts(connection, project) == {"unique": (False, 0), "not": (False, 0)}
    notes_load(connection, [("A", "a"), ("B", "b2"), ("B", "b3"), ("C", None)], ["B", "C"],
               LOADED_AT + timedelta(hours=3))
    (result,) = build_all(connection, project)
    assert result.merged and result.rows_merged == 3
    # the checks read the rows the merge inserted, kept by the runner, instead of searching the model
    kept = connection.execute("select tracking_id from models_state.merged_rows_of_notes order by all").fetchall()
    assert kept == [("B",), ("B",), ("C",)]
    assert verdicts(connection, project) == {"unique": (True, 1), "not": (True, 1)}
    connection.close()


def test_a_merge_that_reaches_beyond_the_changed_trackings_runs_its_tests_whole(tmp_path):
    """A model whose incremental filter also takes unchanged trackings (here every one) may rewrite
    their rows: only a test over the whole table can vouch for them."""
    project = notes_project(tmp_path / "sql", CHANGED_ONLY + " or note is null")
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    notes_load(connection, [("A", "a"), ("B", "b")], ["A", "B"], LOADED_AT)
    build_all(connection, project)
    verdicts(connection, project)
    # A lost its note in raw without being reported changed: the merge rewrites its row anyway
    notes_load(connection, [("A", None), ("B", "b2")], ["B"], LOADED_AT + timedelta(hours=3))
    (result,) = build_all(connection, project)
    assert result.merged and result.rows_merged == 2
    tables = {row[0] for row in connection.execute("select table_name from duckdb_tables()").fetchall()}
    assert "merged_rows_of_notes" not in tables  # rows of a merge that is not confined are not kept
    assert verdicts(connection, project) == {"unique": (False, 0), "not": (False, 1)}
    connection.close()
