"""Dagster asset: rebuild the `raw` schema of the warehouse from the lake."""


import dagster as dg

from tm_pipeline.api.status_codes import SEED_TABLE
from tm_pipeline.extract.assets import LAKE_API_CALLS, LAKE_BACKFILL, LAKE_TRACKINGS
from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import column_schema
from tm_pipeline.extract.quarantine import QUARANTINE_SCHEMA
from tm_pipeline.load.raw_tables import (
    CHECKPOINTS_SCHEMA,
    RAW_TRACKINGS_SCHEMA,
    STATUS_CODES_SCHEMA,
    load_raw_tables,
)
from tm_pipeline.models.pools import WAREHOUSE_POOL
from tm_pipeline.resources import LakeResource, WarehouseResource

RAW_TRACKINGS = dg.AssetKey(["raw", "trackings"])
RAW_CHECKPOINTS = dg.AssetKey(["raw", "checkpoints"])
RAW_API_CALLS = dg.AssetKey(["raw", "api_calls"])
RAW_STATUS_CODES = dg.AssetKey(["raw", "status_codes"])
RAW_QUARANTINE = dg.AssetKey(["raw", "quarantine"])

# Eager, except that days never backfilled do not count as missing: almost every created-day
# partition is, by design, and `eager()` waits for all of a dependency's partitions. A day that
# is backfilled still counts as an update and triggers the load.
FOLLOWS_THE_LAKE = dg.AutomationCondition.eager().replace(
    "any_deps_missing", dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets(LAKE_BACKFILL))
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RAW_TRACKINGS,
            deps=[LAKE_TRACKINGS, LAKE_BACKFILL],
            description="One row per tracking (the latest state wins), typed columns; the original JSON is "
            "in the view raw.tracking_json over the Parquet lake.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(RAW_TRACKINGS_SCHEMA)},
            automation_condition=FOLLOWS_THE_LAKE,
        ),
        dg.AssetSpec(
            RAW_CHECKPOINTS,
            deps=[LAKE_TRACKINGS, LAKE_BACKFILL],
            description="One row per scan event, unnested from origin_info/destination_info.trackinfo.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(CHECKPOINTS_SCHEMA)},
            automation_condition=FOLLOWS_THE_LAKE,
        ),
        dg.AssetSpec(
            RAW_API_CALLS,
            deps=[LAKE_API_CALLS, LAKE_BACKFILL],
            description="The ledger of every HTTP attempt, for the API status checks and api_health_daily.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(LEDGER_SCHEMA)},
            automation_condition=FOLLOWS_THE_LAKE,
        ),
        dg.AssetSpec(
            RAW_STATUS_CODES,
            description="The TrackingMore v2 meta.code seed table: type, meaning, category and the pipeline's action.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(STATUS_CODES_SCHEMA)},
            automation_condition=FOLLOWS_THE_LAKE,
        ),
        dg.AssetSpec(
            RAW_QUARANTINE,
            deps=[LAKE_TRACKINGS, LAKE_BACKFILL],
            description="List items that could not be typed (no id, wrong types, not an object, lone surrogates): "
            "where they came from, why, and their original bytes.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(QUARANTINE_SCHEMA)},
            automation_condition=dg.AutomationCondition.eager(),
        ),
    ],
    group_name="load",
    pool=WAREHOUSE_POOL,
)
def warehouse_raw_tables(lake: LakeResource, warehouse: WarehouseResource):
    with warehouse.connect() as connection:
        summary = load_raw_tables(connection, lake.lake())
    yield dg.MaterializeResult(
        asset_key=RAW_TRACKINGS,
        metadata={"dagster/row_count": summary.trackings, "duplicates_collapsed": summary.duplicates_collapsed},
    )
    yield dg.MaterializeResult(asset_key=RAW_CHECKPOINTS, metadata={"dagster/row_count": summary.checkpoints})
    yield dg.MaterializeResult(asset_key=RAW_API_CALLS, metadata={"dagster/row_count": summary.api_calls})
    yield dg.MaterializeResult(asset_key=RAW_STATUS_CODES, metadata={"dagster/row_count": len(SEED_TABLE)})
    yield dg.MaterializeResult(asset_key=RAW_QUARANTINE, metadata={"dagster/row_count": summary.quarantined})
