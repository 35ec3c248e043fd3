"""Load the Parquet lake into the `raw` schema of the DuckDB warehouse.

Everything here is rebuilt from the lake, which is the system of record: a load can be repeated
at any time and gives the same tables. One row per tracking survives (latest state wins), and
checkpoints are unnested from each tracking's original JSON by DuckDB, not row by row in Python.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from tm_pipeline.api.status_codes import SEED_TABLE
from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA
from tm_pipeline.landing.lake import Lake

_CHECKPOINT_TYPE = (
    '[{"Date":"VARCHAR","checkpoint_status":"VARCHAR","substatus":"VARCHAR",'
    '"StatusDescription":"VARCHAR","Details":"VARCHAR","ItemNode":"VARCHAR"}]'
)

_TRACKINGS_SQL = """
CREATE OR REPLACE TABLE raw.trackings AS
SELECT * FROM {source}
QUALIFY row_number() OVER (
    PARTITION BY tracking_id ORDER BY updated_at DESC NULLS LAST, fetched_at DESC, page DESC
) = 1
"""

_CHECKPOINTS_SQL = f"""
CREATE OR REPLACE TABLE raw.checkpoints AS
WITH legs AS (
    SELECT tracking_id, 'origin' AS leg,
           json_transform(json_extract(raw_json, '$.origin_info.trackinfo'), '{_CHECKPOINT_TYPE}') AS trackinfo
    FROM raw.trackings
    UNION ALL
    SELECT tracking_id, 'destination' AS leg,
           json_transform(json_extract(raw_json, '$.destination_info.trackinfo'), '{_CHECKPOINT_TYPE}')
    FROM raw.trackings
), checkpoints AS (
    SELECT tracking_id, leg,
           (generate_subscripts(trackinfo, 1) - 1)::INTEGER AS position,
           unnest(trackinfo) AS checkpoint
    FROM legs
)
SELECT tracking_id, leg, position,
       checkpoint."Date" AS checkpoint_date,
       checkpoint.checkpoint_status AS checkpoint_status,
       checkpoint.substatus AS substatus,
       checkpoint."StatusDescription" AS status_description,
       checkpoint."Details" AS details,
       checkpoint."ItemNode" AS item_node
FROM checkpoints
ORDER BY tracking_id, leg, position
"""


def status_codes_table() -> pa.Table:
    """The seed table of API codes as data, so SQL judges codes exactly as the extractor acts on them."""
    entries = sorted(SEED_TABLE.values(), key=lambda entry: entry.code)
    return pa.table(
        {
            "code": pa.array([e.code for e in entries], pa.int32()),
            "type": [e.type for e in entries],
            "meaning": [e.meaning for e in entries],
            "category": [e.category.value for e in entries],
            "action": [e.action.value for e in entries],
            "what_to_do": [e.what_to_do for e in entries],
        }
    )


@dataclass
class LoadSummary:
    trackings: int
    checkpoints: int
    api_calls: int
    rows_landed: int

    @property
    def duplicates_collapsed(self) -> int:
        return self.rows_landed - self.trackings


def _source(connection: duckdb.DuckDBPyConnection, pattern: str, schema: pa.Schema, name: str) -> str:
    """A FROM-clause for the lake files, or for an empty table of the right shape when none exist yet."""
    if glob.glob(pattern):
        quoted = pattern.replace("'", "''")
        return f"read_parquet('{quoted}', union_by_name = true)"
    connection.register(name, schema.empty_table())
    return name


def load_raw_tables(connection: duckdb.DuckDBPyConnection, lake: Lake) -> LoadSummary:
    connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
    trackings_source = _source(connection, lake.trackings_glob, TRACKINGS_SCHEMA, "empty_trackings")
    calls_source = _source(connection, lake.api_calls_glob, LEDGER_SCHEMA, "empty_api_calls")
    connection.register("seed_status_codes", status_codes_table())
    connection.execute("BEGIN TRANSACTION")
    connection.execute("CREATE OR REPLACE TABLE raw.status_codes AS SELECT * FROM seed_status_codes")
    connection.execute(_TRACKINGS_SQL.format(source=trackings_source))
    connection.execute(_CHECKPOINTS_SQL)
    connection.execute(f"CREATE OR REPLACE TABLE raw.api_calls AS SELECT * FROM {calls_source} ORDER BY ALL")
    connection.execute("COMMIT")
    (rows_landed,) = connection.execute(f"SELECT count(*) FROM {trackings_source}").fetchone()
    counts = {
        table: connection.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
        for table in ("trackings", "checkpoints", "api_calls")
    }
    return LoadSummary(
        trackings=counts["trackings"], checkpoints=counts["checkpoints"], api_calls=counts["api_calls"],
        rows_landed=rows_landed,
    )
