"""Dagster assets for the SQL models: one asset per model, lineage from ref()/source().

No `from __future__ import annotations` in the Dagster modules: Dagster reads the config and
resource types from the decorated functions' annotations at definition time.

Each asset opens its own short DuckDB connection through the `warehouse` resource, because DuckDB
has a single writer and analysts' tools must not be locked out for a whole run.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from tm_pipeline.contracts.pools import WAREHOUSE_POOL
from tm_pipeline.models.checks import build_data_test_checks
from tm_pipeline.models.graph import build_order
from tm_pipeline.models.project import ColumnDoc, Model, load_project
from tm_pipeline.models.runner import build_model
from tm_pipeline.resources import WarehouseResource

GROUP_NAME = "models"
# Tables the load step writes beside raw.trackings in the same step, for the incremental models
# (raw.changed_trackings, raw.load_info): their asset is the one that writes raw.trackings, so a
# model never waits for an asset that is never materialized on its own.
LOAD_CONTRACT_TABLES = {"changed_trackings": "trackings", "load_info": "trackings"}


class ModelBuildConfig(dg.Config):
    """Run config: `full_refresh` rebuilds incremental models whole, as `dbt run --full-refresh`.

    A full load (raw.load_info.mode = 'full') implies it, so a tracking the load dropped is gone."""

    full_refresh: bool = False


def model_asset_key(model_name: str) -> dg.AssetKey:
    return dg.AssetKey([model_name])


def source_asset_key(source: str, table: str) -> dg.AssetKey:
    """source('raw', 'trackings') is the load step's asset ["raw", "trackings"]."""
    if source == "raw":
        table = LOAD_CONTRACT_TABLES.get(table, table)
    return dg.AssetKey([source, table])


def _column_schema(
    columns: tuple[ColumnDoc, ...], built_types: dict[str, str] | None = None
) -> dg.TableSchema:
    """Columns as documented in schema.yml; types from the built relation once it exists."""
    column_types = built_types or {column.name: column.data_type or "unknown" for column in columns}
    descriptions = {column.name: column.description for column in columns}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=column_type, description=descriptions.get(name) or None)
            for name, column_type in column_types.items()
        ]
    )


def _model_asset(model: Model) -> dg.AssetsDefinition:
    deps = list(dict.fromkeys(
        [model_asset_key(ref) for ref in model.refs]
        + [source_asset_key(source, table) for source, table in model.sources]
    ))

    @dg.asset(
        key=model_asset_key(model.name),
        group_name=GROUP_NAME,
        deps=deps,
        description=model.description or None,
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        # Models follow fresh data: when any upstream updates (a sync, a backfilled day), rebuild.
        automation_condition=dg.AutomationCondition.eager(),
        metadata={
            "dagster/column_schema": _column_schema(model.columns),
            "materialized": model.materialized,
            "sql_path": model.path.as_posix(),
        },
    )
    # Dagster recognises only the bare MaterializeResult class in an asset's return annotation.
    def _build(config: ModelBuildConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
        with warehouse.connect() as connection:
            result = build_model(
                connection, model, full_refresh=config.full_refresh, full_history_every=warehouse.full_history_every
            )
        metadata: dict[str, Any] = {
            "dagster/row_count": result.row_count,
            "dagster/column_schema": _column_schema(model.columns, dict(result.columns)),
            "materialized": result.materialized,
        }
        if model.materialized == "incremental":
            # how this build went: merged the changed trackings' rows, or rebuilt whole
            metadata["incremental_merge"] = result.merged
            metadata["rows_merged"] = result.rows_merged if result.rows_merged is not None else -1
        if result.full_history_built_at is not None:
            # kept: this run did not read the whole history; the table is as built then (runner.py)
            metadata["full_history_built_at"] = result.full_history_built_at.isoformat(timespec="seconds")
            metadata["full_history_kept"] = result.full_history_kept
        return dg.MaterializeResult(metadata=metadata)

    return _build


def full_refresh_run_config(model_assets: list[dg.AssetsDefinition]) -> dict[str, dict[str, Any]]:
    """Run config (op name -> config) that rebuilds every model whole: `sync --full-refresh`."""
    return {asset.op.name: {"full_refresh": True} for asset in model_assets}


def build_model_definitions(
    sql_dir: Path,
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """Assets for every model under sql_dir, plus the checks running their data tests.

    The folder is validated here (unknown refs, cycles, undeclared sources), so a broken model
    fails when the code location loads rather than halfway through a run.
    """
    project = load_project(Path(sql_dir))
    order = build_order(project.models, project.sources)
    assets = [_model_asset(project.models[name]) for name in order]
    return assets, build_data_test_checks(project)
