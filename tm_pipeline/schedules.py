"""The scheduled incremental sync and the automation sensor: what runs without anyone asking.

TrackingMore refreshes express couriers about every 3 h and postal ones every 6 h, so polling more
often only spends the account's 1 request/second on data that has not changed.

Runs execute in-process: every step of the graph sits in a pool of limit 1 (the API key's or
DuckDB's), so steps run one after another anyway, and Dagster's default multiprocess executor
would only add a fresh Python process (imports, definitions, resources) per step.
"""

import dagster as dg

from tm_pipeline.extract.assets import LAKE_BACKFILL
from tm_pipeline.maintenance.assets import LAKE_COMPACTION

# Everything but the created-day backfill, which runs per partition when someone asks for it, and
# the lake's compaction, which runs on its own daily schedule (tm_pipeline/maintenance).
SYNC_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.assets(LAKE_BACKFILL, LAKE_COMPACTION)

sync_job = dg.define_asset_job(
    "incremental_sync",
    selection=SYNC_SELECTION,
    description="Extract what changed since the last sync, load, rebuild the models, check, publish.",
    config={"ops": {"trackingmore_extract": {"config": {"mode": "incremental"}}}},
    executor_def=dg.in_process_executor,
)

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
