"""Models and tests tagged full_history on a cadence (TM_FULL_HISTORY_EVERY_HOURS): kept between
their whole runs on incremental loads, rebuilt when due, after a full load, on a full refresh or
a new SQL; with no cadence (the default) every run rebuilds them.

The raw states are test_models_incremental's sequence; warehouses built whole are the reference.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import dagster as dg
import duckdb
import pytest

from tm_pipeline.api.errors import ConfigurationError
from tm_pipeline.definitions import MODEL_ASSETS, pipeline_checks
from tm_pipeline.models.data_tests import compile_tests, run_tests
from tm_pipeline.models.graph import build_order
from tm_pipeline.models.runner import FULL_HISTORY_RUNS, FULL_HISTORY_TAG, BuildResult, build_all, build_model
from tm_pipeline.resources import WarehouseResource
from tm_pipeline.settings import FULL_HISTORY_EVERY_VAR, full_history_every_hours
from tm_pipeline_tests.test_models_incremental import (
    LOADED_AT,
    PROJECT,
    built_whole,
    differences,
    first_load,
    load,
    repair_load,
    second_load,
    third_load,
)

DAILY = timedelta(hours=24)
TAGGED = {name for name, model in PROJECT.models.items() if FULL_HISTORY_TAG in model.tags}
GRAIN_TEST = "unique_fct_shipment_journeys_account_tracking_id"


def kept(results: list[BuildResult]) -> set[str]:
    return {result.model for result in results if result.full_history_kept}


def age_full_history_runs(connection: duckdb.DuckDBPyConnection, hours: float) -> None:
    """As if every recorded whole-history run happened `hours` earlier."""
    connection.execute(f"update {FULL_HISTORY_RUNS} set ran_at = ran_at - to_hours(?)", [hours])


def test_the_history_marts_are_tagged_and_the_operational_ones_are_not():
    quantile_marts = {"lead_time_by_carrier", "lead_time_by_lane", "carrier_scorecard_monthly", "delivery_time_by_week"}
    assert quantile_marts <= TAGGED
    assert not TAGGED & {"stuck_shipments", "active_promise_status_by_carrier", "stuck_share_by_carrier_status",
                         "fct_shipments", "int_shipment_journeys", "api_health_daily", "data_as_of"}
    assert all(PROJECT.models[name].materialized == "table" for name in TAGGED)


def test_kept_within_the_cadence_rebuilt_when_due(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(connection, first_load(), "full", LOADED_AT)
    assert kept(build_all(connection, PROJECT, full_history_every=DAILY)) == set()
    built_whole(tmp_path, first_load(), "whole_1").close()
    built_whole(tmp_path, second_load(), "whole_2").close()

    load(connection, second_load(), "incremental", LOADED_AT + timedelta(hours=3))
    results = build_all(connection, PROJECT, full_history_every=DAILY)
    assert kept(results) == TAGGED
    # the kept marts are still the first load's; everything else follows the second
    stale = differences(connection, tmp_path / "whole_2.duckdb")
    assert stale and set(stale) <= TAGGED, stale
    assert set(differences(connection, tmp_path / "whole_1.duckdb")).isdisjoint(TAGGED)

    age_full_history_runs(connection, 25)
    load(connection, third_load(), "incremental", LOADED_AT + timedelta(hours=6))
    assert kept(build_all(connection, PROJECT, full_history_every=DAILY)) == set()
    built_whole(tmp_path, third_load(), "whole_3").close()
    assert differences(connection, tmp_path / "whole_3.duckdb") == {}
    connection.close()


def test_rebuilt_after_a_full_load_on_a_full_refresh_for_new_sql_and_without_a_cadence(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(connection, first_load(), "full", LOADED_AT)
    build_all(connection, PROJECT, full_history_every=DAILY)
    load(connection, second_load(), "incremental", LOADED_AT + timedelta(hours=3))
    assert kept(build_all(connection, PROJECT)) == set(), "no cadence: every run reads the whole history"
    assert kept(build_all(connection, PROJECT, full_refresh=True, full_history_every=DAILY)) == set()
    model = PROJECT.models["lead_time_by_carrier"]
    assert build_model(connection, model, full_history_every=DAILY).full_history_kept
    edited = dataclasses.replace(model, sql=model.sql + "\n-- a new version of the SQL\n")
    assert not build_model(connection, edited, full_history_every=DAILY).full_history_kept
    load(connection, repair_load(), "full", LOADED_AT + timedelta(hours=6))
    assert kept(build_all(connection, PROJECT, full_history_every=DAILY)) == set()
    built_whole(tmp_path, repair_load(), "whole_repair").close()
    assert differences(connection, tmp_path / "whole_repair.duckdb") == {}
    connection.close()


def _grain_outcome(connection: duckdb.DuckDBPyConnection) -> tuple[bool, int]:
    tests = compile_tests(PROJECT)
    outcomes = run_tests(connection, tests, incremental=True, full_history_every=DAILY)
    (outcome,) = [outcome for test, outcome in zip(tests, outcomes, strict=True) if test.name == GRAIN_TEST]
    return outcome.changed_rows_only, outcome.failures


def test_the_journeys_grain_test_reads_every_row_only_when_due(tmp_path):
    """Whole on the first run and when due; in between over the changed trackings' rows, where it
    still sees a duplicate of a changed tracking."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(connection, first_load(), "full", LOADED_AT)
    build_all(connection, PROJECT, full_history_every=DAILY)
    assert _grain_outcome(connection) == (False, 0)
    load(connection, second_load(), "incremental", LOADED_AT + timedelta(hours=3))
    build_all(connection, PROJECT, full_history_every=DAILY)
    assert _grain_outcome(connection) == (True, 0)
    # a duplicate journey of A (changed by this load) is caught by the restricted run
    connection.execute("insert into main.int_shipment_journeys select * from main.int_shipment_journeys "
                       "where tracking_id = 'A'")
    assert _grain_outcome(connection) == (True, 1)
    connection.execute("delete from main.int_shipment_journeys where tracking_id = 'A'")
    age_full_history_runs(connection, 25)
    load(connection, third_load(), "incremental", LOADED_AT + timedelta(hours=6))
    build_all(connection, PROJECT, full_history_every=DAILY)
    assert _grain_outcome(connection) == (False, 0), "due again: whole"
    connection.close()


def test_the_cadence_setting_is_hours_and_a_bad_value_names_the_variable(monkeypatch):
    monkeypatch.delenv(FULL_HISTORY_EVERY_VAR, raising=False)
    assert full_history_every_hours() == 0
    monkeypatch.setenv(FULL_HISTORY_EVERY_VAR, "24")
    assert full_history_every_hours() == 24
    for bad in ("-1", "daily", "nan", "inf"):
        monkeypatch.setenv(FULL_HISTORY_EVERY_VAR, bad)
        with pytest.raises(ConfigurationError, match=FULL_HISTORY_EVERY_VAR):
            full_history_every_hours()


def test_a_kept_mart_says_so_in_its_dagster_materialization(tmp_path):
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as connection:
        load(connection, first_load(), "full", LOADED_AT)
    warehouse = WarehouseResource(database_path=str(database), full_history_every_hours=24)

    def materialize() -> dict[str, dict]:
        result = dg.materialize([*MODEL_ASSETS, *pipeline_checks()], resources={"warehouse": warehouse})
        return {
            event.asset_key.to_user_string(): event.materialization.metadata
            for event in result.get_asset_materialization_events()
        }

    first = materialize()
    assert first["lead_time_by_carrier"]["full_history_kept"].value is False
    with duckdb.connect(str(database)) as connection:
        load(connection, second_load(), "incremental", LOADED_AT + timedelta(hours=3))
    second = materialize()
    assert second["lead_time_by_carrier"]["full_history_kept"].value is True
    assert (second["lead_time_by_carrier"]["full_history_built_at"].value
            == first["lead_time_by_carrier"]["full_history_built_at"].value)
    assert "full_history_kept" not in second["stuck_shipments"]


def test_a_full_load_the_history_marts_missed_makes_the_next_run_rebuild_them(tmp_path):
    """The models step reached the other models but not the history marts after a full load (a
    repair that dropped G): the next incremental load must not keep marts that still count G."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(connection, third_load(), "full", LOADED_AT)
    build_all(connection, PROJECT, full_history_every=DAILY)
    load(connection, repair_load(), "full", LOADED_AT + timedelta(hours=3))
    for name in build_order(PROJECT.models, PROJECT.sources):
        if name not in TAGGED:  # none of the others refs a tagged model
            build_model(connection, PROJECT.models[name], full_history_every=DAILY)
    load(connection, repair_load(), "incremental", LOADED_AT + timedelta(hours=6))
    assert kept(build_all(connection, PROJECT, full_history_every=DAILY)) == set()
    built_whole(tmp_path, repair_load(), "whole").close()
    assert differences(connection, tmp_path / "whole.duckdb") == {}
    connection.close()
