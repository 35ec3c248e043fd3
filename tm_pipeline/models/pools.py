"""The Dagster concurrency pool of every step that opens the DuckDB file.

DuckDB takes one writer process at a time: under a multiprocess executor, limit this pool to 1
in the instance (dagster.yaml `concurrency: pools`) and put the load step in it too.
"""

WAREHOUSE_POOL = "duckdb_warehouse"
