"""Dagster asset: the published warehouse, refreshed only when every model built."""

import dagster as dg

from tm_pipeline.contracts.pools import WAREHOUSE_POOL
from tm_pipeline.publish.snapshot import publish_snapshot
from tm_pipeline.resources import WarehouseResource

PUBLISHED_WAREHOUSE = dg.AssetKey(["published_warehouse"])


def build_publish_asset(model_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """Depends on every model: a mart held back by a failed blocking check holds back publishing too,
    so analysts keep the last good data rather than a half-updated warehouse."""

    @dg.asset(
        key=PUBLISHED_WAREHOUSE,
        deps=model_keys,
        group_name="publish",
        pool=WAREHOUSE_POOL,
        automation_condition=dg.AutomationCondition.eager(),
        kinds={"duckdb"},
        description="The DuckDB file analysts and BI tools open (read-only): an atomic copy of the build.",
    )
    # Dagster recognises only the bare MaterializeResult class in an asset's return annotation.
    def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
        published_bytes = publish_snapshot(warehouse.build_file, warehouse.published_file, limits=warehouse.limits)
        return dg.MaterializeResult(
            metadata={"path": str(warehouse.published_file), "size_mb": round(published_bytes / 1e6, 1)}
        )

    return published_warehouse
