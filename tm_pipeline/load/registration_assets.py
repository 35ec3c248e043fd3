"""Dagster asset: `raw.registrations`, the registration results in the warehouse, for SQL and analysts."""


import dagster as dg

from tm_pipeline.contracts.dagster_columns import column_schema
from tm_pipeline.contracts.pools import WAREHOUSE_POOL
from tm_pipeline.load.registrations import load_registrations
from tm_pipeline.register.assets import LAKE_REGISTRATIONS
from tm_pipeline.register.record import REGISTRATIONS_SCHEMA
from tm_pipeline.resources import LakeResource, WarehouseResource

RAW_REGISTRATIONS = dg.AssetKey(["raw", "registrations"])


@dg.asset(
    key=RAW_REGISTRATIONS,
    deps=[LAKE_REGISTRATIONS],
    group_name="load",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="Every registration result (created, already exists, refused with a reason and advice), one row "
    "per input shipment per run.",
    metadata={"dagster/column_schema": column_schema(REGISTRATIONS_SCHEMA)},
    automation_condition=dg.AutomationCondition.eager(),
)
# Dagster recognises only the bare MaterializeResult class in an asset's return annotation.
def raw_registrations(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    with warehouse.connect() as connection:
        # Registration refuses a remote lake (its record is local), so a remote lake has none to load.
        rows = load_registrations(connection, lake.local_root("registration")) if lake.lake().is_local else 0
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})
