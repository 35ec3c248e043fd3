"""What the warehouse has loaded, kept in the build file itself, and what a load tells the models.

`raw.loaded_files` lists every lake file whose rows are in `raw.*` (with the SHA-256 and size it
had then), so the next load reads only the files added since. It lives in the build file on
purpose: a lost or corrupt build file loses the bookkeeping with the tables, and the next load is
simply a full rebuild. `raw.changed_trackings` and `raw.load_info` are the contract with the
models: which trackings' winning rows this load changed (all of them after a full rebuild), and
whether it was a full or an incremental load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from tm_pipeline.landing.integrity import KnownFile

# Raised when what the bookkeeping means changes: a build file with another format is rebuilt in full.
# 2: load_info counts the rows deleted since the last vacuum; 3: raw.* carry `account` and files are
# named relative to the top lake (`account=<name>/...` for a named account's lake); 4: raw.trackings
# and raw.checkpoints rows carry the `loaded_at` of the load that wrote them.
LOAD_FORMAT = 4

FULL, INCREMENTAL = "full", "incremental"
TRACKINGS, API_CALLS, QUARANTINE = "trackings", "api_calls", "quarantine"

LOADED_FILES_SCHEMA = pa.schema(
    [
        # relative to the top lake: as the default account's manifests name it, `account=<name>/...` for
        # a named account's file (the accounts' lakes may hold the same relative paths)
        pa.field("file", pa.string()),
        pa.field("kind", pa.string()),  # trackings | api_calls | quarantine
        pa.field("extraction_id", pa.string()),  # the manifest that lists it
        pa.field("sha256", pa.string()),  # as committed and verified; null for format-1 ledger folders
        pa.field("rows", pa.int64()),
        pa.field("size_bytes", pa.int64()),
        pa.field("mtime_ns", pa.int64()),  # with the size: a file written since it was loaded is hashed again
        pa.field("loaded_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class LoadedFile:
    file: str
    kind: str
    extraction_id: str
    sha256: str | None
    rows: int | None
    size_bytes: int
    mtime_ns: int

    def known(self) -> KnownFile:
        return KnownFile(self.sha256, self.size_bytes, self.mtime_ns)


def _table_exists(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = ? "
        "AND database_name = current_database()",
        [table],
    ).fetchall()
    return bool(found[0][0])


def read_loaded_files(connection: duckdb.DuckDBPyConnection) -> dict[str, LoadedFile] | None:
    """The files this build file has loaded, by lake-relative path; None when it has no usable record
    (a new or rebuilt build file, or one written by a load of another LOAD_FORMAT)."""
    if not (_table_exists(connection, "loaded_files") and _table_exists(connection, "load_info")):
        return None
    formats = connection.execute("SELECT DISTINCT load_format FROM raw.load_info").fetchall()
    if formats != [(LOAD_FORMAT,)]:
        return None
    rows = connection.execute(
        "SELECT file, kind, extraction_id, sha256, rows, size_bytes, mtime_ns FROM raw.loaded_files"
    ).fetchall()
    return {row[0]: LoadedFile(*row) for row in rows}


def _loaded_files_table(files: Iterable[LoadedFile], loaded_at: datetime) -> pa.Table:
    listed = list(files)
    return pa.Table.from_pydict(
        {
            "file": [f.file for f in listed],
            "kind": [f.kind for f in listed],
            "extraction_id": [f.extraction_id for f in listed],
            "sha256": [f.sha256 for f in listed],
            "rows": [f.rows for f in listed],
            "size_bytes": [f.size_bytes for f in listed],
            "mtime_ns": [f.mtime_ns for f in listed],
            "loaded_at": [loaded_at] * len(listed),
        },
        schema=LOADED_FILES_SCHEMA,
    )


def replace_loaded_files(
    connection: duckdb.DuckDBPyConnection, files: Iterable[LoadedFile], loaded_at: datetime
) -> None:
    """After a full rebuild: exactly these files are in raw.*."""
    connection.register("loaded_now", _loaded_files_table(files, loaded_at))
    connection.execute("CREATE OR REPLACE TABLE raw.loaded_files AS SELECT * FROM loaded_now ORDER BY file")
    connection.unregister("loaded_now")


def add_loaded_files(
    connection: duckdb.DuckDBPyConnection, files: Iterable[LoadedFile], loaded_at: datetime, retired: list[str]
) -> None:
    """After an incremental load: these files were added; `retired` left the record (compacted into parts)."""
    if retired:
        connection.register("retired_files", pa.table({"file": pa.array(retired, pa.string())}))
        connection.execute("DELETE FROM raw.loaded_files WHERE file IN (SELECT file FROM retired_files)")
        connection.unregister("retired_files")
    connection.register("loaded_now", _loaded_files_table(files, loaded_at))
    connection.execute("INSERT INTO raw.loaded_files BY NAME SELECT * FROM loaded_now")
    connection.unregister("loaded_now")


def rows_deleted_since_vacuum(connection: duckdb.DuckDBPyConnection) -> int:
    """Rows incremental loads deleted (replaced) since raw.* was last vacuumed or rebuilt."""
    found = connection.execute("SELECT max(rows_deleted_since_vacuum) FROM raw.load_info").fetchall()
    return int(found[0][0] or 0)


def write_load_info(
    connection: duckdb.DuckDBPyConnection, mode: str, loaded_at: datetime, full_reason: str, files_loaded: int,
    rows_deleted: int = 0,
) -> None:
    """One row: how raw.* was last loaded. The models read `mode` (and raw.changed_trackings)."""
    connection.execute(
        "CREATE OR REPLACE TABLE raw.load_info AS SELECT ?::VARCHAR AS mode, ?::TIMESTAMP AS loaded_at, "
        "?::VARCHAR AS full_reason, ?::BIGINT AS files_loaded, ?::INTEGER AS load_format, "
        "?::BIGINT AS rows_deleted_since_vacuum",
        [mode, loaded_at, full_reason or None, files_loaded, LOAD_FORMAT, rows_deleted],
    )
