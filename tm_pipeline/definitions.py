"""The one Definitions object: gathers assets, checks and resources defined next to their stages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from tm_pipeline import settings
from tm_pipeline.accounts import Account
from tm_pipeline.checks.api_ledger import build_ledger_checks
from tm_pipeline.checks.quarantine import quarantine_check
from tm_pipeline.extract.assets import ACCOUNT_EXTRACTS, HAS_DEFAULT_ACCOUNT
from tm_pipeline.load.assets import warehouse_raw_tables
from tm_pipeline.load.registration_assets import raw_registrations
from tm_pipeline.maintenance.assets import compaction_daily, compaction_job, lake_compaction
from tm_pipeline.models.assets import build_model_definitions, model_asset_key
from tm_pipeline.publish.assets import build_publish_asset
from tm_pipeline.register.assets import RegistrationResource, shipments_registration
from tm_pipeline.resources import LakeResource, TrackingMoreResource, WarehouseResource
from tm_pipeline.schedules import automation_sensor, sync_every_3_hours, sync_job
from tm_pipeline.webhooks.assets import lake_pushes, push_job, pushes_waiting

SQL_DIR = Path(__file__).resolve().parent.parent / "dbt_like_sql"
MODEL_ASSETS, DATA_TEST_CHECKS = build_model_definitions(SQL_DIR)
PUBLISH_ASSET = build_publish_asset([key for asset in MODEL_ASSETS for key in asset.keys])
# The API's answers judged as data, on the staged ledger.
API_LEDGER_CHECKS = build_ledger_checks(model_asset_key("stg_api_calls"))


def default_resources(
    data_dir: Path | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    shipments: str | None = None,
    **api_settings: Any,
) -> dict[str, Any]:
    """Resources configured from the environment; the API keys stay EnvVars, resolved only at run time.

    One TrackingMore resource per configured account (`trackingmore` for the default account,
    `trackingmore_<name>` for a named one). `base_url`, `api_key` and `api_settings` (fields of
    TrackingMoreResource) override the environment of the default account, for the demo, the
    tests and the benchmarks; so does `shipments` (what to register: registrations, like webhook
    pushes, belong to the default account).
    """
    root = data_dir or settings.data_dir()

    def account_resource(account: Account) -> TrackingMoreResource:
        overrides = api_settings if account.is_default else {}
        return TrackingMoreResource(
            base_url=(base_url if account.is_default and base_url else account.base_url),
            api_key=(api_key if account.is_default and api_key else dg.EnvVar(account.key_var)),
            **{
                # TRACKINGMORE_API_VERSION is the default account's; a named account's version is the
                # one its base_url names (`.../v4`), else v2.
                "api_version": settings.api_version() if account.is_default else "",
                "list_rate_per_s": account.list_rate_per_s,
                "max_transient_retries": settings.max_transient_retries(),
                "state_dir": str(root / "state"),
                **overrides,
            },
        )

    # Addresses and rates as the environment says now (the assets were built at import).
    configured_now = {account.name: account for account in settings.accounts()}
    return {
        **{
            part.account.resource_key: account_resource(configured_now.get(part.account.name, part.account))
            for part in ACCOUNT_EXTRACTS
        },
        "registration": RegistrationResource(
            shipments=settings.shipments_source() if shipments is None else shipments,
            create_rate_per_s=settings.create_rate_per_s(),
        ),
        "lake": LakeResource(
            root=settings.lake_uri(root), s3_endpoint_url=settings.s3_endpoint_url(),
            mirror_root=str(root / "lake-mirror"),
        ),
        "warehouse": WarehouseResource(
            database_path=str(root / "build" / "warehouse.duckdb"), published_path=str(root / "warehouse.duckdb"),
            memory_limit=settings.duckdb_memory_limit(), temp_directory=str(root / "build" / "duckdb_tmp"),
            full_history_every_hours=settings.full_history_every_hours(),
        ),
    }


def pipeline_assets() -> list[dg.AssetsDefinition]:
    extractions = [asset for part in ACCOUNT_EXTRACTS for asset in (part.extract, part.backfill)]
    # Registrations belong to the default account (its key creates them): without one, there are none.
    registrations = [shipments_registration, raw_registrations] if HAS_DEFAULT_ACCOUNT else []
    return [
        *registrations[:1], *extractions, lake_pushes, warehouse_raw_tables,
        *registrations[1:], *MODEL_ASSETS, PUBLISH_ASSET, lake_compaction,
    ]


def pipeline_checks() -> Sequence[dg.AssetChecksDefinition]:
    return [*DATA_TEST_CHECKS, *API_LEDGER_CHECKS, quarantine_check]


def build_definitions(resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=pipeline_assets(),
        asset_checks=pipeline_checks(),
        jobs=[sync_job, push_job, compaction_job],
        schedules=[sync_every_3_hours, compaction_daily],
        sensors=[automation_sensor, pushes_waiting],
        # Runs launched from the UI or by the sensor run in-process too, like the scheduled job.
        executor=dg.in_process_executor,
        resources=dict(resources) if resources is not None else default_resources(),
    )


defs = build_definitions()
