"""Rebuild the `raw` schema of the DuckDB warehouse from the whole Parquet lake.

The lake is the system of record: a full rebuild can be repeated at any time and gives the same
tables, and an incremental load (load/merge.py) must give exactly what it would. One row per
tracking survives (latest state wins, WINNER_ORDER), and checkpoints are unnested from each
tracking's original JSON by DuckDB, not row by row in Python.

The original JSON itself stays in the lake: `raw.tracking_json` is a view over the Parquet files.
Copying it into the database would make the file many times larger and the load slower for a
column the models never read (README, Benchmarks, has the figures).

Only the files the manifests list, verified (tm_pipeline/landing/integrity.py), are read: never a
glob of whatever happens to be in the folders.

Every configured account's lake is read (load/accounts.py); each row carries its `account`, taken
from the lake its file lies in, and a tracking is one per (account, tracking_id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from tm_pipeline.accounts import DEFAULT_ACCOUNT
from tm_pipeline.api.endpoints import LIST_ENDPOINTS
from tm_pipeline.contracts.fields import described
from tm_pipeline.contracts.warehouse_file import utc_now
from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA
from tm_pipeline.extract.quarantine import QUARANTINE_SCHEMA
from tm_pipeline.landing.integrity import LakeAudit, audit_lake
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.accounts import AccountLake, account_rows_source, merged_audit, with_account
from tm_pipeline.load.bookkeeping import (
    API_CALLS,
    FULL,
    QUARANTINE,
    TRACKINGS,
    LoadedFile,
    replace_loaded_files,
    write_load_info,
)
from tm_pipeline.load.checkpoint_keys import LEGS_TYPE, MILESTONE_COLUMNS, checkpoint_columns, leg_columns
from tm_pipeline.load.plan import AccountFile, accounts_verified_files, extraction_of

# Every raw.trackings and raw.checkpoints row says when the load that wrote it ran. A load writes the
# rows of exactly the trackings it changed, so those are the rows with raw.load_info's loaded_at; and
# as it appends them, the incremental models find them by that column through DuckDB's per-row-group
# min/max without reading the other rows' keys (at 10M trackings, 76M checkpoint keys per model).
LOADED_AT = described(
    "loaded_at", pa.timestamp("us"),
    "When the load that wrote this row ran (UTC): the rows of the trackings a load changed carry its "
    "raw.load_info.loaded_at.",
)

# raw.trackings: the account, then the landed columns but the JSON, which stays in the lake
# (raw.tracking_json), then loaded_at.
RAW_TRACKINGS_SCHEMA = with_account(
    TRACKINGS_SCHEMA.remove(TRACKINGS_SCHEMA.get_field_index("raw_json"))
).append(LOADED_AT)

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
        LOADED_AT,
    ]
)

STATUS_CODES_SCHEMA = pa.schema(
    [
        described("code", pa.int32(), "meta.code (or HTTP status)."),
        described("type", pa.string(), "meta.type the API sends with it (v2; empty for v4)."),
        described("meaning", pa.string(), "What it means."),
        described("category", pa.string(), "How checks judge it: ok, empty, rate_limited, transient, auth, ..."),
        described("action", pa.string(), "What the extractor does: accept, pause, retry, stop, ..."),
        described("what_to_do", pa.string(), "The advice the pipeline gives when it stops on it."),
        described("api_version", pa.string(), "The API version whose table this row is (v2, v4)."),
    ]
)

# Which landed row of a tracking is its state: the latest update, then the latest fetch, then the
# later page; the extraction id makes the order total, so a full rebuild and an incremental merge
# pick the same row even in exact ties.
WINNER_ORDER = "updated_at DESC NULLS LAST, fetched_at DESC, page DESC, extraction_id DESC"

# The winner of each tracking is chosen on narrow columns first and the wide rows (raw_json) are
# read once in a semi join: ranking the wide rows directly drags raw_json through the sort.
_TRACKINGS_SQL = f"""
CREATE OR REPLACE TABLE raw.trackings AS
WITH winners AS (
    SELECT account, tracking_id, extraction_id, page FROM {{source}}
    QUALIFY row_number() OVER (PARTITION BY account, tracking_id ORDER BY {WINNER_ORDER}) = 1
)
SELECT landed.* EXCLUDE (raw_json), {{loaded_at}} AS loaded_at FROM {{source}} AS landed
SEMI JOIN winners
    ON landed.account = winners.account
    AND landed.tracking_id = winners.tracking_id
    AND landed.extraction_id = winners.extraction_id
    AND landed.page = winners.page
"""

_NO_TRACKINGS = "(SELECT NULL::VARCHAR AS account, NULL::VARCHAR AS tracking_id, NULL::VARCHAR AS extraction_id, " \
    "NULL::INTEGER AS page, " \
    "NULL::VARCHAR AS raw_json WHERE false)"

# Rows count only from the files raw.loaded_files records (page files, or the compaction parts that
# replaced them): a stray copy elsewhere, or a compacted page not deleted yet, never doubles a tracking.
# One per account lake; {root} is the top lake's folder, as raw.loaded_files names files relative to it.
_LOADED_PAGE_ROWS = """(
    SELECT {account} AS account, *
    FROM read_parquet('{glob}', union_by_name = true, filename = true, hive_partitioning = false)
    WHERE filename IN (SELECT '{root}/' || file FROM raw.loaded_files WHERE kind = 'trackings')
)"""

# The latest JSON of every tracking, read from the lake where it is stored.
_TRACKING_JSON_SQL = """
SELECT landed.account, landed.tracking_id, landed.raw_json FROM {source} AS landed
SEMI JOIN raw.trackings AS kept
    ON landed.account = kept.account AND landed.tracking_id = kept.tracking_id
    AND landed.extraction_id = kept.extraction_id AND landed.page = kept.page
"""

# Each item's JSON is parsed once for both legs; absent or null legs simply yield no rows.
# {json_rows} is a query of (account, tracking_id, raw_json): the winners' JSON.
CHECKPOINTS_SELECT = f"""
WITH parsed AS (
    SELECT account, tracking_id, json_transform(raw_json, '{LEGS_TYPE}') AS legs FROM ({{json_rows}})
), by_leg AS (
    SELECT account, tracking_id, 'origin' AS leg, {leg_columns("origin_info")} FROM parsed
    UNION ALL
    SELECT account, tracking_id, 'destination' AS leg, {leg_columns("destination_info")} FROM parsed
), checkpoints AS (
    SELECT account, tracking_id, leg{MILESTONE_COLUMNS},
           (generate_subscripts(trackinfo, 1) - 1)::INTEGER AS position,
           unnest(trackinfo) AS checkpoint
    FROM by_leg
)
SELECT account, tracking_id, leg, position,
       {checkpoint_columns()},
       {{loaded_at}} AS loaded_at
FROM checkpoints
"""
_CHECKPOINTS_SQL = "CREATE OR REPLACE TABLE raw.checkpoints AS " + CHECKPOINTS_SELECT.replace(
    "{json_rows}", _TRACKING_JSON_SQL
)


def status_codes_table() -> pa.Table:
    """The seed tables of API codes (every version's) as data, so SQL judges codes exactly as the
    extractor acts on them."""
    versioned = [
        (version, entry)
        for version, endpoint in LIST_ENDPOINTS.items()
        for entry in sorted(endpoint.code_table.values(), key=lambda entry: entry.code)
    ]
    entries = [entry for _, entry in versioned]
    return pa.Table.from_pydict(
        {
            "code": [e.code for e in entries],
            "type": [e.type for e in entries],
            "meaning": [e.meaning for e in entries],
            "category": [e.category.value for e in entries],
            "action": [e.action.value for e in entries],
            "what_to_do": [e.what_to_do for e in entries],
            "api_version": [version for version, _ in versioned],
        },
        schema=STATUS_CODES_SCHEMA,
    )


@dataclass
class LoadSummary:
    trackings: int
    checkpoints: int
    api_calls: int
    rows_landed: int  # rows in the trackings files this load read
    audit: LakeAudit
    quarantined: int = 0
    mode: str = FULL
    full_reason: str = ""
    trackings_changed: int = 0  # whose winning row this load changed (raw.changed_trackings)
    files_read: int = 0

    @property
    def duplicates_collapsed(self) -> int:
        """Landed rows that were not their tracking's winner (of the rows this load read)."""
        return self.rows_landed - self.trackings_changed


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_timestamp(value: datetime) -> str:
    """A TIMESTAMP literal of a naive UTC datetime, to the microsecond (as raw.load_info stores it)."""
    return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='microseconds')}'"


def source(connection: duckdb.DuckDBPyConnection, files: Sequence[AccountFile], schema: pa.Schema, name: str) -> str:
    """A FROM-clause for exactly these lake files with each row's `account` first, or for an empty
    table of the right shape when there are none."""
    by_account: dict[str, list[Path]] = {}
    for part, path in files:
        by_account.setdefault(part.account, []).append(path)
    return account_rows_source(connection, list(by_account.items()), schema, name)


def loaded_records(files: dict[str, list[AccountFile]]) -> list[LoadedFile]:
    """How raw.loaded_files records `files` (by kind): named relative to the top lake, as committed,
    with their size and mtime now."""
    records = []
    for kind, paths in files.items():
        for part, path in paths:
            committed = extraction_of(part.audit, path)
            found = path.stat()
            records.append(
                LoadedFile(
                    part.name(path), kind, committed.extraction_id, committed.sha256, committed.rows,
                    found.st_size, found.st_mtime_ns,
                )
            )
    return records


def create_tracking_json_view(connection: duckdb.DuckDBPyConnection, accounts: Sequence[AccountLake]) -> None:
    """raw.tracking_json: the winners' JSON, read from the account lakes where it is stored.

    A view outlives this connection, so over an empty lake it cannot read a registered empty table.
    It reads the folders, not a list of files: a partition re-run deletes its earlier pages before
    the next load, and a view naming them would fail until then. An account lake without trackings
    files is left out (a glob matching nothing is an error). Creating it reads the footer of every
    page file, so a view that already reads these lakes is kept."""
    with_trackings = [part for part in accounts if part.audit.trackings_files]
    json_sources = [
        _LOADED_PAGE_ROWS.replace("{glob}", part.lake.trackings_glob.replace("'", "''"))
        .replace("{root}", str(part.top_root).replace("'", "''"))
        .replace("{account}", sql_text(part.account))
        for part in with_trackings
    ]
    json_source = "(" + " UNION ALL BY NAME ".join(json_sources) + ")" if json_sources else _NO_TRACKINGS
    wanted = _TRACKING_JSON_SQL.replace("{source}", json_source)
    existing = connection.execute(
        "SELECT sql FROM duckdb_views() WHERE schema_name = 'raw' AND view_name = 'tracking_json' "
        "AND database_name = current_database()"
    ).fetchall()
    # DuckDB stores a view's SQL normalised, so it is recognised by the lakes it reads and the record it filters on.
    if (
        existing and with_trackings and "loaded_files" in existing[0][0]
        and existing[0][0].count("read_parquet") == len(with_trackings)
        and all(part.lake.trackings_glob in existing[0][0] for part in with_trackings)
    ):
        return
    connection.execute("DROP VIEW IF EXISTS raw.tracking_json")
    connection.execute(f"CREATE VIEW raw.tracking_json AS {wanted}")


def single_account(lake: Lake, audit: LakeAudit | None = None) -> list[AccountLake]:
    """The one default account of a lake without accounts (tests, tools that load one lake)."""
    return [AccountLake(DEFAULT_ACCOUNT, lake, audit if audit is not None else audit_lake(lake))]


def load_raw_tables(
    connection: duckdb.DuckDBPyConnection,
    lake: Lake | None = None,
    audit: LakeAudit | None = None,
    full_reason: str = "",
    accounts: Sequence[AccountLake] | None = None,
) -> LoadSummary:
    """Rebuild `raw.*` from the verified files of every account's lake in `accounts` (or of `lake`'s
    `audit`, audited now when not given, as the default account), and record them as loaded; every
    tracking counts as changed (raw.changed_trackings), for the models."""
    if accounts is None:
        if lake is None:
            raise ValueError("load_raw_tables needs a lake or the accounts' lakes")
        accounts = single_account(lake, audit)
    audit = merged_audit(accounts)
    loaded_at = utc_now()
    files = accounts_verified_files(accounts)
    records = loaded_records(files)
    connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
    trackings_source = source(connection, files[TRACKINGS], TRACKINGS_SCHEMA, "empty_trackings")
    calls_source = source(connection, files[API_CALLS], LEDGER_SCHEMA, "empty_api_calls")
    quarantine_source = source(connection, files[QUARANTINE], QUARANTINE_SCHEMA, "empty_quarantine")
    connection.register("seed_status_codes", status_codes_table())
    connection.execute("BEGIN TRANSACTION")
    connection.execute("CREATE OR REPLACE TABLE raw.status_codes AS SELECT * FROM seed_status_codes")
    stamp = sql_timestamp(loaded_at)
    connection.execute(_TRACKINGS_SQL.replace("{source}", trackings_source).replace("{loaded_at}", stamp))
    connection.execute(_CHECKPOINTS_SQL.replace("{source}", trackings_source).replace("{loaded_at}", stamp))
    connection.execute(
        "CREATE OR REPLACE TABLE raw.changed_trackings AS SELECT DISTINCT account, tracking_id FROM raw.trackings"
    )
    replace_loaded_files(connection, records, loaded_at)
    write_load_info(connection, FULL, loaded_at, full_reason or "a full rebuild", len(records))
    create_tracking_json_view(connection, accounts)
    connection.execute(f"CREATE OR REPLACE TABLE raw.api_calls AS SELECT * FROM {calls_source} ORDER BY ALL")
    # Ledger parts written before the API version was recorded lack the column; they are v2 calls
    # (stg_api_calls reads null as v2), and a lake of only such parts must still load.
    connection.execute("ALTER TABLE raw.api_calls ADD COLUMN IF NOT EXISTS api_version VARCHAR")
    # Every item ever quarantined, with its original bytes: the lake is history, the check judges the latest run.
    connection.execute(
        f"CREATE OR REPLACE TABLE raw.quarantine AS SELECT * FROM {quarantine_source} "
        "ORDER BY account, extraction_id, page, position"
    )
    connection.execute("COMMIT")
    (rows_landed,) = connection.execute(f"SELECT count(*) FROM {trackings_source}").fetchall()[0]
    counts = table_counts(connection)
    return LoadSummary(
        trackings=counts["trackings"], checkpoints=counts["checkpoints"], api_calls=counts["api_calls"],
        rows_landed=rows_landed, audit=audit, quarantined=counts["quarantine"], mode=FULL,
        full_reason=full_reason, trackings_changed=counts["trackings"], files_read=len(records),
    )


def table_counts(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {
        table: int(connection.execute(f"SELECT count(*) FROM raw.{table}").fetchall()[0][0])
        for table in ("trackings", "checkpoints", "api_calls", "quarantine")
    }
