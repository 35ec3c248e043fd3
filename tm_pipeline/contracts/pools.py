"""The Dagster concurrency pool of every step that opens the DuckDB file, and the tag of every asset
that calls the TrackingMore API.

DuckDB takes one writer process at a time: under a multiprocess executor, limit this pool to 1
in the instance (dagster.yaml `concurrency: pools`). The load, the model builds, the checks and
the publish all take it, so it lives below all of them.
"""

WAREHOUSE_POOL = "duckdb_warehouse"

# Every asset that spends an account's API key (extraction, backfill, registration) carries this tag,
# so a job that must never call the API (the webhook push run) selects "everything but the tagged",
# whatever accounts are configured.
CALLS_API_TAG = "tm/calls_api"
CALLS_API = {CALLS_API_TAG: "true"}
