"""The one Definitions object: gathers assets, checks and resources defined next to their stages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from tm_pipeline import settings
from tm_pipeline.checks.api_status import api_status_codes
from tm_pipeline.extract.assets import trackingmore_extract
from tm_pipeline.load.assets import warehouse_raw_tables
from tm_pipeline.models.assets import build_model_definitions
from tm_pipeline.resources import LakeResource, TrackingMoreResource, WarehouseResource

SQL_DIR = Path(__file__).resolve().parent.parent / "dbt_like_sql"
MODEL_ASSETS, MODEL_CHECKS = build_model_definitions(SQL_DIR)


def default_resources(data_dir: Path | None = None) -> dict[str, Any]:
    """Resources configured from the environment; the API key stays an EnvVar, resolved only at run time."""
    root = data_dir or settings.data_dir()
    return {
        "trackingmore": TrackingMoreResource(
            base_url=settings.base_url(),
            api_key=dg.EnvVar(settings.API_KEY_VAR),
            list_rate_per_s=settings.list_rate_per_s(),
        ),
        "lake": LakeResource(root=str(root / "lake")),
        "warehouse": WarehouseResource(database_path=str(root / "warehouse.duckdb")),
    }


def pipeline_assets() -> list[dg.AssetsDefinition]:
    return [trackingmore_extract, warehouse_raw_tables, *MODEL_ASSETS]


def pipeline_checks() -> Sequence[dg.AssetChecksDefinition]:
    return [api_status_codes, *MODEL_CHECKS]


def build_definitions(resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=pipeline_assets(),
        asset_checks=pipeline_checks(),
        resources=dict(resources) if resources is not None else default_resources(),
    )


defs = build_definitions()
