"""The scheduled incremental sync and the automation sensor: what runs without anyone asking.

TrackingMore refreshes express couriers about every 3 h and postal ones every 6 h, so polling more
often only spends the account's 1 request/second on data that has not changed.

With one account, runs execute in-process: every step of the graph sits in a pool of limit 1 (the
API key's or DuckDB's), so steps run one after another anyway, and Dagster's default multiprocess
executor would only add a fresh Python process (imports, definitions, resources) per step.
With several accounts, the scheduled job is their extractions only, one process per account so
each spends its own key's 1 request/second at the same time; the automation sensor then runs the
load, models, checks and publish in-process (they wait for DuckDB's one writer anyway).
"""

from __future__ import annotations

import dagster as dg

from tm_pipeline.extract.assets import ACCOUNT_EXTRACTS, AccountExtract
from tm_pipeline.maintenance.assets import LAKE_COMPACTION


def extraction_selection(extracts: list[AccountExtract]) -> dg.AssetSelection:
    """The accounts' extraction assets (lake trackings and ledger), without their backfills."""
    return dg.AssetSelection.assets(*[key for part in extracts for key in (part.trackings_key, part.api_calls_key)])


# Everything but the created-day backfills, which run per partition when someone asks for them, and
# the lake's compaction, which runs on its own daily schedule (tm_pipeline/maintenance).
SYNC_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.assets(
    *[part.backfill_key for part in ACCOUNT_EXTRACTS], LAKE_COMPACTION
)
PARALLEL_ACCOUNTS = len(ACCOUNT_EXTRACTS) > 1


def build_sync_job(extracts: list[AccountExtract]) -> dg.UnresolvedAssetJobDefinition:
    """One account: the whole sync, in-process. Several: their extractions in parallel processes."""
    extraction_config = {"ops": {part.extract_op: {"config": {"mode": "incremental"}} for part in extracts}}
    if len(extracts) == 1:
        return dg.define_asset_job(
            "incremental_sync",
            selection=SYNC_SELECTION,
            description="Extract what changed since the last sync, load, rebuild the models, check, publish.",
            config=extraction_config,
            executor_def=dg.in_process_executor,
        )
    return dg.define_asset_job(
        "incremental_sync",
        selection=extraction_selection(extracts),
        description=f"Extract what changed since the last sync in each of {len(extracts)} accounts at once, one "
        "process each; the automation sensor then loads, rebuilds the models, checks and publishes.",
        config=extraction_config,
        # Every account's step at once: they wait on the network, not the CPU, so more than the cores.
        executor_def=dg.multiprocess_executor.configured({"max_concurrent": len(extracts)}),
    )


sync_job = build_sync_job(ACCOUNT_EXTRACTS)

sync_every_3_hours = dg.ScheduleDefinition(
    name="incremental_sync_every_3_hours",
    job=sync_job,
    cron_schedule="0 */3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The incremental sync at the carriers' refresh cadence (every 3 hours, on the hour, UTC).",
)

# Assets with `AutomationCondition.eager()` (load, models, publish) follow a manual extraction or a
# backfilled day on their own. Dagster's implicit sensor for them starts STOPPED; this one is on.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "eager_assets_follow_upstream",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    # One run per tick for everything requested, not a backfill split into one run per layer.
    emit_backfills=False,
    description="Rebuilds load, models and the published warehouse when their upstream data changes "
    "(a manual extraction, a backfilled day). Never calls the API: extraction assets have no condition.",
)
