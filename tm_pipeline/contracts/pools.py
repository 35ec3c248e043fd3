"""The Dagster concurrency pool of every step that opens the DuckDB file.

DuckDB takes one writer process at a time: under a multiprocess executor, limit this pool to 1
in the instance (dagster.yaml `concurrency: pools`). The load, the model builds, the checks and
the publish all take it, so it lives below all of them.
"""

WAREHOUSE_POOL = "duckdb_warehouse"
