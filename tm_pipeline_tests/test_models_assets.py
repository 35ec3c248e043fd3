"""The models as Dagster assets and checks, materialized with dg.materialize on a temp DuckDB."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tm_pipeline.definitions import MODEL_ASSETS, pipeline_checks
from tm_pipeline.resources import WarehouseResource
from tm_pipeline_tests.raw_rows import (
    api_call_row,
    checkpoint_row,
    create_raw_tables,
    insert_rows,
    tracking_row,
)

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"
MARTS = [
    "fct_shipments",
    "delivery_time_by_carrier",
    "delivery_time_by_lane",
    "delivery_time_by_week",
    "exception_rate_by_carrier",
    "exception_rate_by_destination",
    "exception_rate_by_week",
    "api_health_daily",
]


def seed_clean(database_path: Path) -> None:
    with duckdb.connect(str(database_path)) as connection:
        create_raw_tables(connection)
        insert_rows(connection, "trackings", [tracking_row("A", status="Delivered"), tracking_row("B")])
        insert_rows(
            connection,
            "checkpoints",
            [
                checkpoint_row("A", "2024-03-01 10:00:00", "transit", position=1),
                checkpoint_row("A", "2024-03-03 10:00", "Delivered", position=0),
                checkpoint_row("B", "2024-03-02 10:00", "transit"),
            ],
        )
        insert_rows(connection, "api_calls", [api_call_row(1, rows=2, total_reported=2)])


def materialize(database_path: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*MODEL_ASSETS, *pipeline_checks()],
        resources={"warehouse": WarehouseResource(database_path=str(database_path))},
        raise_on_error=False,
    )


def materialized_keys(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def failed_checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckSeverity]:
    return {
        evaluation.check_name: evaluation.severity
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    }


@pytest.fixture(scope="module")
def definitions() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """The models and every check that judges them, as the pipeline's Definitions gather them."""
    return MODEL_ASSETS, list(pipeline_checks())


def test_every_model_is_an_asset_in_the_models_group(definitions):
    assets, _ = definitions
    keys = {key for asset in assets for key in asset.keys}
    assert dg.AssetKey(["delivery_time_by_carrier"]) in keys
    assert all(asset.group_names_by_key[key] == "models" for asset in assets for key in asset.keys)


def test_lineage_maps_source_to_raw_asset_keys_and_ref_to_model_keys(definitions):
    assets, _ = definitions
    deps = {asset.key.to_user_string(): set(asset.asset_deps[asset.key]) for asset in assets}
    assert deps["stg_trackings"] == {dg.AssetKey(["raw", "trackings"])}
    # raw.changed_trackings (the incremental filter) is written by the asset that writes raw.trackings
    assert deps["fct_shipments"] == {
        dg.AssetKey(["stg_trackings"]), dg.AssetKey(["int_shipment_milestones"]), dg.AssetKey(["raw", "trackings"])
    }


def test_assets_carry_description_and_documented_columns(definitions):
    assets, _ = definitions
    (fct,) = [asset for asset in assets if asset.key == dg.AssetKey(["fct_shipments"])]
    assert "One row per tracking" in fct.descriptions_by_key[fct.key]
    schema = fct.metadata_by_key[fct.key]["dagster/column_schema"]
    delivery_days = {column.name: column for column in schema.columns}["delivery_days"]
    assert "86400" in delivery_days.description


def test_error_tests_are_blocking_and_warn_tests_are_not(definitions):
    _, checks = definitions
    specs = {spec.name: spec for check in checks for spec in check.check_specs}
    assert specs["unique_stg_trackings_account_tracking_id"].blocking
    assert specs["accepted_values_stg_trackings_status"].blocking
    assert not specs["not_null_stg_checkpoints_checkpoint_at"].blocking
    assert specs["api_auth_errors"].blocking and not specs["api_rate_limited"].blocking


def test_clean_input_materializes_every_model_with_row_counts_and_passing_checks(tmp_path):
    database_path = tmp_path / "warehouse.duckdb"
    seed_clean(database_path)
    result = materialize(database_path)
    assert result.success
    assert set(MARTS) <= materialized_keys(result)
    assert failed_checks(result) == {}
    row_counts = {
        event.asset_key.to_user_string(): event.materialization.metadata["dagster/row_count"].value
        for event in result.get_asset_materialization_events()
    }
    assert row_counts["fct_shipments"] == 2 and row_counts["delivery_time_by_carrier"] == 1


def test_check_results_are_written_to_dq_check_results(tmp_path):
    database_path = tmp_path / "warehouse.duckdb"
    seed_clean(database_path)
    result = materialize(database_path)
    with duckdb.connect(str(database_path)) as connection:
        rows = connection.execute(
            "select run_id, asset, passed, severity from main.dq_check_results "
            "where check_name = 'unique_stg_trackings_account_tracking_id'"
        ).fetchall()
        check_count = connection.execute("select count(*) from main.dq_check_results").fetchall()[0][0]
    assert rows == [(result.run_id, "stg_trackings", True, "error")]
    assert check_count == len(result.get_asset_check_evaluations())


def test_corrupted_input_fails_the_right_checks_and_keeps_marts_from_materializing(tmp_path):
    database_path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database_path)) as connection:
        create_raw_tables(connection)
        insert_rows(
            connection,
            "trackings",
            [
                tracking_row("A", status="Delivered"),
                tracking_row("A", status="transit"),  # duplicate id
                tracking_row("B", status="lost_in_space"),  # unknown status
            ],
        )
        insert_rows(
            connection,
            "checkpoints",
            [
                checkpoint_row("A", "2024-03-01 10:00", "transit"),
                checkpoint_row("B", "2999-01-01 00:00", "transit"),  # in the future
            ],
        )
        insert_rows(
            connection,
            "api_calls",
            [
                api_call_row(1, rows=2, total_reported=2),
                api_call_row(2, meta_code=4001, http_status=200, meta_type="Unauthorized"),
            ],
        )
    result = materialize(database_path)

    assert not result.success
    failed = failed_checks(result)
    assert failed["unique_stg_trackings_account_tracking_id"] == dg.AssetCheckSeverity.ERROR
    assert failed["accepted_values_stg_trackings_status"] == dg.AssetCheckSeverity.ERROR
    assert failed["api_auth_errors"] == dg.AssetCheckSeverity.ERROR
    assert failed["assert_checkpoint_times_not_in_future"] == dg.AssetCheckSeverity.WARN
    assert materialized_keys(result).isdisjoint(MARTS)


def test_failed_check_metadata_shows_count_severity_and_samples(tmp_path):
    database_path = tmp_path / "warehouse.duckdb"
    seed_clean(database_path)
    with duckdb.connect(str(database_path)) as connection:
        insert_rows(connection, "trackings", [tracking_row("Z", status="Lost")])
    result = materialize(database_path)
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "accepted_values_stg_trackings_status"
    ]
    assert evaluation.metadata["failing_rows"].value == 1
    assert evaluation.metadata["severity"].value == "error"
    assert evaluation.metadata["sample_failing_rows"].value == [{"value": "lost", "occurrences": 1}]


def merge_metadata(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        event.asset_key.to_user_string(): event.materialization.metadata["incremental_merge"].value
        for event in result.get_asset_materialization_events()
        if "incremental_merge" in event.materialization.metadata
    }


@pytest.mark.parametrize("full_refresh", [False, True])
def test_incremental_models_merge_after_an_incremental_load_unless_the_run_asks_for_a_full_refresh(
    tmp_path, full_refresh
):
    """The run config `sync --full-refresh` passes (full_refresh_run_config) reaches every model."""
    from tm_pipeline.bench.load_changes import fingerprint_raw, record_load
    from tm_pipeline.models.assets import full_refresh_run_config

    database = tmp_path / "w.duckdb"
    seed_clean(database)
    with duckdb.connect(str(database)) as connection:
        record_load(connection, "full", datetime(2024, 3, 10))
    first = materialize(database)
    assert first.success and set(merge_metadata(first).values()) == {False}
    with duckdb.connect(str(database)) as connection:
        fingerprint_raw(connection)
        insert_rows(connection, "trackings", [tracking_row("C")])
        record_load(connection, "incremental", datetime(2024, 3, 10, 3))
    ops = full_refresh_run_config(MODEL_ASSETS) if full_refresh else {}
    second = dg.materialize(
        [*MODEL_ASSETS, *pipeline_checks()],
        resources={"warehouse": WarehouseResource(database_path=str(database))},
        run_config={"ops": {op: {"config": config} for op, config in ops.items()}},
    )
    merges = merge_metadata(second)
    assert len(merges) == 4 and set(merges.values()) == {not full_refresh}
