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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from tm_pipeline.api.endpoints import LIST_ENDPOINTS
from tm_pipeline.contracts.fields import described
from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA
from tm_pipeline.extract.quarantine import QUARANTINE_SCHEMA
from tm_pipeline.landing.integrity import LakeAudit, audit_lake
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.bookkeeping import (
    FULL,
    LoadedFile,
    replace_loaded_files,
    write_load_info,
)
from tm_pipeline.load.checkpoint_keys import LEGS_TYPE, MILESTONE_COLUMNS, checkpoint_columns, leg_columns
from tm_pipeline.load.plan import extraction_of, verified_files

# raw.trackings: the landed columns but the JSON, which stays in the lake (raw.tracking_json).
RAW_TRACKINGS_SCHEMA = TRACKINGS_SCHEMA.remove(TRACKINGS_SCHEMA.get_field_index("raw_json"))

# The shape of raw.checkpoints, produced by _CHECKPOINTS_SQL below.
CHECKPOINTS_SCHEMA = pa.schema(
    [
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
    SELECT tracking_id, extraction_id, page FROM {{source}}
    QUALIFY row_number() OVER (PARTITION BY tracking_id ORDER BY {WINNER_ORDER}) = 1
)
SELECT landed.* EXCLUDE (raw_json) FROM {{source}} AS landed
SEMI JOIN winners
    ON landed.tracking_id = winners.tracking_id
    AND landed.extraction_id = winners.extraction_id
    AND landed.page = winners.page
"""

_NO_TRACKINGS = "(SELECT NULL::VARCHAR AS tracking_id, NULL::VARCHAR AS extraction_id, NULL::INTEGER AS page, " \
    "NULL::VARCHAR AS raw_json WHERE false)"

# Rows count only from the files raw.loaded_files records (page files, or the compaction parts that
# replaced them): a stray copy elsewhere, or a compacted page not deleted yet, never doubles a tracking.
_LOADED_PAGE_ROWS = """(
    SELECT * FROM read_parquet('{glob}', union_by_name = true, filename = true, hive_partitioning = false)
    WHERE filename IN (SELECT '{root}/' || file FROM raw.loaded_files WHERE kind = 'trackings')
)"""

# The latest JSON of every tracking, read from the lake where it is stored.
_TRACKING_JSON_SQL = """
SELECT landed.tracking_id, landed.raw_json FROM {source} AS landed
SEMI JOIN raw.trackings AS kept
    ON landed.tracking_id = kept.tracking_id AND landed.extraction_id = kept.extraction_id AND landed.page = kept.page
"""

# Each item's JSON is parsed once for both legs; absent or null legs simply yield no rows.
# {json_rows} is a query of (tracking_id, raw_json): the winners' JSON.
CHECKPOINTS_SELECT = f"""
WITH parsed AS (
    SELECT tracking_id, json_transform(raw_json, '{LEGS_TYPE}') AS legs FROM ({{json_rows}})
), by_leg AS (
    SELECT tracking_id, 'origin' AS leg, {leg_columns("origin_info")} FROM parsed
    UNION ALL
    SELECT tracking_id, 'destination' AS leg, {leg_columns("destination_info")} FROM parsed
), checkpoints AS (
    SELECT tracking_id, leg{MILESTONE_COLUMNS},
           (generate_subscripts(trackinfo, 1) - 1)::INTEGER AS position,
           unnest(trackinfo) AS checkpoint
    FROM by_leg
)
SELECT tracking_id, leg, position,
       {checkpoint_columns()}
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


def source(connection: duckdb.DuckDBPyConnection, files: Sequence[Path], schema: pa.Schema, name: str) -> str:
    """A FROM-clause for exactly these lake files, or for an empty table of the right shape when there are none."""
    if files:
        quoted = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
        # Not hive-partitioned: the folder names (window=, extraction=, compaction=) are not columns.
        return f"read_parquet([{quoted}], union_by_name = true, hive_partitioning = false)"
    connection.register(name, schema.empty_table())
    return name


def loaded_records(lake: Lake, audit: LakeAudit, files: dict[str, list[Path]]) -> list[LoadedFile]:
    """How raw.loaded_files records `files` (by kind): as committed, with their size and mtime now."""
    records = []
    for kind, paths in files.items():
        for path in paths:
            committed = extraction_of(audit, path)
            found = path.stat()
            records.append(
                LoadedFile(
                    lake.relative(path), kind, committed.extraction_id, committed.sha256, committed.rows,
                    found.st_size, found.st_mtime_ns,
                )
            )
    return records


def create_tracking_json_view(connection: duckdb.DuckDBPyConnection, lake: Lake, any_trackings: bool) -> None:
    """raw.tracking_json: the winners' JSON, read from the lake where it is stored.

    A view outlives this connection, so over an empty lake it cannot read a registered empty table.
    It reads the folders, not a list of files: a partition re-run deletes its earlier pages before
    the next load, and a view naming them would fail until then. Creating it reads the footer of
    every page file, so a view that already reads this lake is kept."""
    json_source = _NO_TRACKINGS
    if any_trackings:
        json_source = _LOADED_PAGE_ROWS.replace("{glob}", lake.trackings_glob.replace("'", "''")).replace(
            "{root}", str(lake.root).replace("'", "''")
        )
    wanted = _TRACKING_JSON_SQL.replace("{source}", json_source)
    existing = connection.execute(
        "SELECT sql FROM duckdb_views() WHERE schema_name = 'raw' AND view_name = 'tracking_json' "
        "AND database_name = current_database()"
    ).fetchall()
    # DuckDB stores a view's SQL normalised, so it is recognised by the lake it reads and the record it filters on.
    if existing and any_trackings and all(part in existing[0][0] for part in (lake.trackings_glob, "loaded_files")):
        return
    connection.execute("DROP VIEW IF EXISTS raw.tracking_json")
    connection.execute(f"CREATE VIEW raw.tracking_json AS {wanted}")


def load_raw_tables(
    connection: duckdb.DuckDBPyConnection, lake: Lake, audit: LakeAudit | None = None, full_reason: str = ""
) -> LoadSummary:
    """Rebuild `raw.*` from the verified files of `audit` (audited now when not given), and record
    them as loaded; every tracking counts as changed (raw.changed_trackings), for the models."""
    audit = audit if audit is not None else audit_lake(lake)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    records = loaded_records(lake, audit, verified_files(audit))
    connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
    trackings_source = source(connection, audit.trackings_files, TRACKINGS_SCHEMA, "empty_trackings")
    calls_source = source(connection, audit.api_calls_files, LEDGER_SCHEMA, "empty_api_calls")
    quarantine_source = source(connection, audit.quarantine_files, QUARANTINE_SCHEMA, "empty_quarantine")
    connection.register("seed_status_codes", status_codes_table())
    connection.execute("BEGIN TRANSACTION")
    connection.execute("CREATE OR REPLACE TABLE raw.status_codes AS SELECT * FROM seed_status_codes")
    connection.execute(_TRACKINGS_SQL.replace("{source}", trackings_source))
    connection.execute(_CHECKPOINTS_SQL.replace("{source}", trackings_source))
    connection.execute(
        "CREATE OR REPLACE TABLE raw.changed_trackings AS SELECT DISTINCT tracking_id FROM raw.trackings"
    )
    replace_loaded_files(connection, records, loaded_at)
    write_load_info(connection, FULL, loaded_at, full_reason or "a full rebuild", len(records))
    create_tracking_json_view(connection, lake, bool(audit.trackings_files))
    connection.execute(f"CREATE OR REPLACE TABLE raw.api_calls AS SELECT * FROM {calls_source} ORDER BY ALL")
    # Ledger parts written before the API version was recorded lack the column; they are v2 calls
    # (stg_api_calls reads null as v2), and a lake of only such parts must still load.
    connection.execute("ALTER TABLE raw.api_calls ADD COLUMN IF NOT EXISTS api_version VARCHAR")
    # Every item ever quarantined, with its original bytes: the lake is history, the check judges the latest run.
    connection.execute(
        f"CREATE OR REPLACE TABLE raw.quarantine AS SELECT * FROM {quarantine_source} "
        "ORDER BY extraction_id, page, position"
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
