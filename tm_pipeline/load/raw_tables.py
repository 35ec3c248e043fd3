"""Load the Parquet lake into the `raw` schema of the DuckDB warehouse.

Everything here is rebuilt from the lake, which is the system of record: a load can be repeated
at any time and gives the same tables. One row per tracking survives (latest state wins), and
checkpoints are unnested from each tracking's original JSON by DuckDB, not row by row in Python.

The original JSON itself stays in the lake: `raw.tracking_json` is a view over the Parquet files.
Copying it into the database would make the file many times larger and the load slower for a
column the models never read (README, Benchmarks, has the figures).

Only the files the manifests list, verified (tm_pipeline/landing/integrity.py), are read: never a
glob of whatever happens to be in the folders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from tm_pipeline.accounts import DEFAULT_ACCOUNT
from tm_pipeline.api.status_codes import SEED_TABLE
from tm_pipeline.contracts.fields import described
from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA
from tm_pipeline.extract.quarantine import QUARANTINE_SCHEMA
from tm_pipeline.landing.integrity import LakeAudit, audit_lake
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.accounts import AccountLake, account_rows_source, merged_audit, with_account

# raw.trackings: the account, then the landed columns but the JSON, which stays in the lake (raw.tracking_json).
RAW_TRACKINGS_SCHEMA = with_account(TRACKINGS_SCHEMA.remove(TRACKINGS_SCHEMA.get_field_index("raw_json")))

# raw.api_calls: the account, then the ledger's columns.
RAW_API_CALLS_SCHEMA = with_account(LEDGER_SCHEMA)

# The shape of raw.checkpoints, produced by _CHECKPOINTS_SQL below.
CHECKPOINTS_SCHEMA = pa.schema(
    [
        described("account", pa.string(), "The TrackingMore account (configured name) of the tracking."),
        described("tracking_id", pa.string(), "The tracking the scan event belongs to."),
        described("leg", pa.string(), "'origin' (origin_info) or 'destination' (destination_info)."),
        described("position", pa.int32(), "Index in trackinfo as sent; 0 is the first, which the API orders newest."),
        described("checkpoint_date", pa.string(), "`Date` as sent: courier-local time, no zone."),
        described("checkpoint_status", pa.string(), "`checkpoint_status` as sent (may be mixed case)."),
        described("substatus", pa.string(), "Checkpoint sub-status as sent."),
        described("status_description", pa.string(), "`StatusDescription`, in the courier's language."),
        described("details", pa.string(), "`Details`, usually a location."),
        described("item_node", pa.string(), "`ItemNode`: the milestone this checkpoint set, if any."),
    ]
)

STATUS_CODES_SCHEMA = pa.schema(
    [
        described("code", pa.int32(), "v2 meta.code (or HTTP status)."),
        described("type", pa.string(), "meta.type the API sends with it."),
        described("meaning", pa.string(), "What it means."),
        described("category", pa.string(), "How checks judge it: ok, empty, rate_limited, transient, auth, ..."),
        described("action", pa.string(), "What the extractor does: accept, pause, retry, stop, ..."),
        described("what_to_do", pa.string(), "The advice the pipeline gives when it stops on it."),
    ]
)

_CHECKPOINTS_TYPE = (
    '[{"Date":"VARCHAR","checkpoint_status":"VARCHAR","substatus":"VARCHAR",'
    '"StatusDescription":"VARCHAR","Details":"VARCHAR","ItemNode":"VARCHAR"}]'
)
_LEGS_TYPE = (
    f'{{"origin_info":{{"trackinfo":{_CHECKPOINTS_TYPE}}},'
    f'"destination_info":{{"trackinfo":{_CHECKPOINTS_TYPE}}}}}'
)

# The winner of each tracking is chosen on narrow columns first and the wide rows (raw_json) are
# read once in a semi join: ranking the wide rows directly drags raw_json through the sort.
_TRACKINGS_SQL = """
CREATE OR REPLACE TABLE raw.trackings AS
WITH winners AS (
    SELECT account, tracking_id, extraction_id, page FROM {source}
    QUALIFY row_number() OVER (
        PARTITION BY account, tracking_id ORDER BY updated_at DESC NULLS LAST, fetched_at DESC, page DESC
    ) = 1
)
SELECT landed.* EXCLUDE (raw_json) FROM {source} AS landed
SEMI JOIN winners
    ON landed.account = winners.account
    AND landed.tracking_id = winners.tracking_id
    AND landed.extraction_id = winners.extraction_id
    AND landed.page = winners.page
"""

_NO_TRACKINGS = "(SELECT NULL::VARCHAR AS account, NULL::VARCHAR AS tracking_id," \
    " NULL::VARCHAR AS extraction_id, NULL::INTEGER AS page, " \
    "NULL::VARCHAR AS raw_json WHERE false)"

_CANONICAL_PAGE_ROWS = """(
    SELECT {account} AS account, *
    FROM read_parquet('{glob}', union_by_name = true, filename = true, hive_partitioning = false)
    WHERE filename LIKE '%/extraction=' || extraction_id || '/page-' || lpad(page::VARCHAR, 6, '0') || '.parquet'
)"""

# The latest JSON of every tracking, read from the lake where it is stored.
_TRACKING_JSON_SQL = """
SELECT landed.account, landed.tracking_id, landed.raw_json FROM {source} AS landed
SEMI JOIN raw.trackings AS kept
    ON landed.account = kept.account AND landed.tracking_id = kept.tracking_id
    AND landed.extraction_id = kept.extraction_id AND landed.page = kept.page
"""

# Each item's JSON is parsed once for both legs; absent or null legs simply yield no rows.
_CHECKPOINTS_SQL = f"""
CREATE OR REPLACE TABLE raw.checkpoints AS
WITH parsed AS (
    SELECT account, tracking_id, json_transform(raw_json, '{_LEGS_TYPE}') AS legs FROM ({_TRACKING_JSON_SQL})
), by_leg AS (
    SELECT account, tracking_id, 'origin' AS leg, legs.origin_info.trackinfo AS trackinfo FROM parsed
    UNION ALL
    SELECT account, tracking_id, 'destination' AS leg, legs.destination_info.trackinfo AS trackinfo FROM parsed
), checkpoints AS (
    SELECT account, tracking_id, leg,
           (generate_subscripts(trackinfo, 1) - 1)::INTEGER AS position,
           unnest(trackinfo) AS checkpoint
    FROM by_leg
)
SELECT account, tracking_id, leg, position,
       checkpoint."Date" AS checkpoint_date,
       checkpoint.checkpoint_status AS checkpoint_status,
       checkpoint.substatus AS substatus,
       checkpoint."StatusDescription" AS status_description,
       checkpoint."Details" AS details,
       checkpoint."ItemNode" AS item_node
FROM checkpoints
"""


def status_codes_table() -> pa.Table:
    """The seed table of API codes as data, so SQL judges codes exactly as the extractor acts on them."""
    entries = sorted(SEED_TABLE.values(), key=lambda entry: entry.code)
    return pa.Table.from_pydict(
        {
            "code": [e.code for e in entries],
            "type": [e.type for e in entries],
            "meaning": [e.meaning for e in entries],
            "category": [e.category.value for e in entries],
            "action": [e.action.value for e in entries],
            "what_to_do": [e.what_to_do for e in entries],
        },
        schema=STATUS_CODES_SCHEMA,
    )


@dataclass
class LoadSummary:
    trackings: int
    checkpoints: int
    api_calls: int
    rows_landed: int
    audit: LakeAudit
    quarantined: int = 0

    @property
    def duplicates_collapsed(self) -> int:
        return self.rows_landed - self.trackings


def load_raw_tables(
    connection: duckdb.DuckDBPyConnection,
    lake: Lake,
    audit: LakeAudit | None = None,
    accounts: Sequence[AccountLake] | None = None,
) -> LoadSummary:
    """Rebuild `raw.*` from the verified files of `audit` (audited now when not given), or of every
    account's lake in `accounts` (then `lake` and `audit` are not read); rows carry their account."""
    if accounts is None:
        accounts = [AccountLake(DEFAULT_ACCOUNT, lake, audit if audit is not None else audit_lake(lake))]
    audit = merged_audit(accounts)
    connection.execute("CREATE SCHEMA IF NOT EXISTS raw")

    def source(files_of: Callable[[LakeAudit], list[Path]], schema: pa.Schema, empty_name: str) -> str:
        files_by_account = [(part.account, files_of(part.audit)) for part in accounts]
        return account_rows_source(connection, files_by_account, schema, empty_name)

    trackings_source = source(lambda a: a.trackings_files, TRACKINGS_SCHEMA, "empty_trackings")
    calls_source = source(lambda a: a.api_calls_files, LEDGER_SCHEMA, "empty_api_calls")
    quarantine_source = source(lambda a: a.quarantine_files, QUARANTINE_SCHEMA, "empty_quarantine")
    connection.register("seed_status_codes", status_codes_table())
    connection.execute("BEGIN TRANSACTION")
    connection.execute("CREATE OR REPLACE TABLE raw.status_codes AS SELECT * FROM seed_status_codes")
    connection.execute(_TRACKINGS_SQL.replace("{source}", trackings_source))
    connection.execute(_CHECKPOINTS_SQL.replace("{source}", trackings_source))
    # A view outlives this connection, so over an empty lake it cannot read the registered empty table.
    # It reads the folders, not the list: a partition re-run deletes its earlier pages before the
    # next load, and a view naming them would fail until then. Rows count only from the file at
    # their page's own path (a stray copy elsewhere never doubles a tracking), and the semi join
    # on raw.trackings keeps only the rows that won in verified files.
    json_sources = [
        _CANONICAL_PAGE_ROWS.replace("{glob}", part.lake.trackings_glob.replace("'", "''")).replace(
            "{account}", "'" + part.account.replace("'", "''") + "'"
        )
        for part in accounts
        if part.audit.trackings_files
    ]
    json_source = "(" + " UNION ALL BY NAME ".join(json_sources) + ")" if json_sources else _NO_TRACKINGS
    connection.execute("DROP VIEW IF EXISTS raw.tracking_json")
    connection.execute(f"CREATE VIEW raw.tracking_json AS {_TRACKING_JSON_SQL.replace('{source}', json_source)}")
    connection.execute(f"CREATE OR REPLACE TABLE raw.api_calls AS SELECT * FROM {calls_source} ORDER BY ALL")
    # Every item ever quarantined, with its original bytes: the lake is history, the check judges the latest run.
    connection.execute(
        f"CREATE OR REPLACE TABLE raw.quarantine AS SELECT * FROM {quarantine_source} "
        "ORDER BY account, extraction_id, page, position"
    )
    connection.execute("COMMIT")
    (rows_landed,) = connection.execute(f"SELECT count(*) FROM {trackings_source}").fetchall()[0]
    counts = {
        table: connection.execute(f"SELECT count(*) FROM raw.{table}").fetchall()[0][0]
        for table in ("trackings", "checkpoints", "api_calls", "quarantine")
    }
    return LoadSummary(
        trackings=counts["trackings"], checkpoints=counts["checkpoints"], api_calls=counts["api_calls"],
        rows_landed=rows_landed, audit=audit, quarantined=counts["quarantine"],
    )
