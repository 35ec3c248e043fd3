"""The scheduled incremental sync: every 3 hours, the carriers' own refresh cadence.

TrackingMore refreshes express couriers about every 3 h and postal ones every 6 h, so polling more
often only spends the account's 1 request/second on data that has not changed.
"""

import dagster as dg

from tm_pipeline.extract.assets import LAKE_BACKFILL

# Everything but the created-day backfill, which runs per partition when someone asks for it.
SYNC_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.assets(LAKE_BACKFILL)

sync_job = dg.define_asset_job(
    "incremental_sync",
    selection=SYNC_SELECTION,
    description="Extract what changed since the last sync, load, rebuild the models, check, publish.",
    config={"ops": {"trackingmore_extract": {"config": {"mode": "incremental"}}}},
)

sync_every_3_hours = dg.ScheduleDefinition(
    name="incremental_sync_every_3_hours",
    job=sync_job,
    cron_schedule="0 */3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The incremental sync at the carriers' refresh cadence (every 3 hours, on the hour, UTC).",
)
