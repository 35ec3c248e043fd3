"""Dagster: seal landed pushes into the lake, and the sensor that runs seal → load → models → publish.

The sensor looks at the push log (cheap: the tail of each segment against the push manifests)
every few seconds and starts one run when pushes are waiting and no push run is in flight; the
run takes the warehouse pool like every load, so it never overlaps a scheduled sync's load.
"""


import dagster as dg

from tm_pipeline.contracts.pools import CALLS_API, CALLS_API_TAG, WAREHOUSE_POOL
from tm_pipeline.resources import LakeResource
from tm_pipeline.webhooks.seal import seal_pushes, unsealed_bytes

LAKE_PUSHES = dg.AssetKey(["lake", "pushes"])
PUSH_JOB_NAME = "pushes_to_warehouse"
SENSOR_INTERVAL_S = 5

_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.asset(
    key=LAKE_PUSHES,
    group_name="extract",
    pool=WAREHOUSE_POOL,
    kinds={"parquet"},
    description="Webhook pushes (tm-pipeline webhook) sealed from the append-only push log into lake "
    "extractions of window `push`, in the trackings schema; the load merges them with polled pages.",
)
def lake_pushes(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    store = lake.lake()
    if not store.is_local:
        # Every sync runs this step; with the lake on an object store the receiver cannot run
        # (its push log must be fsynced on a local disk), so there is nothing to seal.
        context.log.info(f"no pushes to seal: webhooks need a local lake, and the lake is at {store.location}")
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "skipped": "the lake is not local"})
    summary = seal_pushes(store, context.run.run_id)
    if summary.retired:
        context.log.warning(f"push extractions sealed again (unfinished or damaged): {summary.retired}")
    context.log.info(
        f"sealed {summary.records} pushes into {summary.pages} pages (extraction {summary.extraction_id})"
        if summary.extraction_id else "no pushes waiting"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": summary.records,
            "extraction_id": summary.extraction_id or "",
            "pages": summary.pages,
            "quarantined": summary.quarantined,
            "segments": dg.MetadataValue.json(summary.ranges),
            "resealed": summary.retired,
            "elapsed_s": round(summary.elapsed_s, 3),
        }
    )


push_job = dg.define_asset_job(
    PUSH_JOB_NAME,
    # Everything but what calls the API (every account's extraction and backfill, registration): a push
    # run seals, loads, builds and publishes, never spends a key.
    selection=dg.AssetSelection.all() - dg.AssetSelection.tag(CALLS_API_TAG, CALLS_API[CALLS_API_TAG]),
    description="Seal landed webhook pushes, load, rebuild the models, check, publish.",
    executor_def=dg.in_process_executor,
)


@dg.sensor(
    job=push_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a push run when landed webhook pushes wait to be sealed, at most one at a time.",
)
def pushes_waiting(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult | dg.SkipReason:
    store = lake.lake()
    if not store.is_local:
        return dg.SkipReason(f"webhooks need a local lake; the lake is at {store.location}")
    waiting = unsealed_bytes(store)
    if not waiting:
        return dg.SkipReason("no landed pushes wait to be sealed")
    in_flight = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=PUSH_JOB_NAME, statuses=_IN_FLIGHT), limit=1
    )
    if in_flight:
        return dg.SkipReason(f"{waiting} bytes of pushes wait; run {in_flight[0].run_id} is still in flight")
    return dg.SensorResult(run_requests=[dg.RunRequest(tags={"tm/pushes_waiting_bytes": str(waiting)})])
