"""Dagster asset: page through the list endpoint and land trackings and the ledger as Parquet."""


import dagster as dg

from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.ledger import Ledger
from tm_pipeline.extract.run import extract_window
from tm_pipeline.resources import LakeResource, TrackingMoreResource

LAKE_TRACKINGS = dg.AssetKey(["lake", "trackings"])
LAKE_API_CALLS = dg.AssetKey(["lake", "api_calls"])

# One pool per API account: two runs must never spend the same key's 1 request/second at once.
TRACKINGMORE_POOL = "trackingmore_api"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            LAKE_TRACKINGS,
            description="Every tracking returned by GET /v2/trackings/get, one Parquet file per page, "
            "typed columns plus the item's original JSON.",
            kinds={"parquet"},
        ),
        dg.AssetSpec(
            LAKE_API_CALLS,
            description="The ledger: one row per HTTP attempt (status, meta.code, latency, rows), never the key.",
            kinds={"parquet"},
        ),
    ],
    group_name="extract",
    pool=TRACKINGMORE_POOL,
)
def trackingmore_extract(
    context: dg.AssetExecutionContext, trackingmore: TrackingMoreResource, lake: LakeResource
):
    client = trackingmore.client()
    try:
        fetcher = PageFetcher(client, trackingmore.pacer(), Ledger(context.run_id), trackingmore.retry_policy())
        summary = extract_window(fetcher, lake.lake(), page_limit=trackingmore.page_limit, progress=context.log.info)
    finally:
        client.close()
    yield dg.MaterializeResult(
        asset_key=LAKE_TRACKINGS,
        metadata={
            "dagster/row_count": summary.rows,
            "pages": summary.pages,
            "total_reported": summary.total_reported,
            "elapsed_s": round(summary.elapsed_s, 3),
            "trackings_per_s": round(summary.rows / summary.elapsed_s, 1) if summary.elapsed_s else 0.0,
        },
    )
    yield dg.MaterializeResult(
        asset_key=LAKE_API_CALLS,
        metadata={"dagster/row_count": summary.calls, "calls_by_code": summary.codes},
    )
