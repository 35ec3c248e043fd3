"""Open the build DuckDB for the load, which can always rebuild it: a corrupt build file heals itself.

Everything in `<data>/build/warehouse.duckdb` is derived from the lake (raw.* by the load, the
models from raw.*), so a file DuckDB cannot open is moved aside with a warning naming it and a new
one is built. The published file is never touched here: analysts keep the last good copy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from tm_pipeline.contracts.warehouse_file import connect_build
from tm_pipeline.landing.lake import DiskFullError, is_disk_full

log = logging.getLogger(__name__)

# How DuckDB words a file it cannot read as a database (truncated, overwritten, flipped bytes).
_CORRUPTION_SIGNS = ("corrupt", "not a valid duckdb database", "checksum", "could not read enough bytes")


def looks_corrupt(error: BaseException) -> bool:
    return isinstance(error, duckdb.Error) and any(sign in str(error).lower() for sign in _CORRUPTION_SIGNS)


def move_aside(build_file: Path) -> Path:
    """Rename the damaged file (and its write-ahead log) out of the way; returns where it went."""
    stamp = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    aside = build_file.with_name(f"{build_file.name}.corrupt-{stamp}")
    os.replace(build_file, aside)
    wal = build_file.with_name(build_file.name + ".wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + ".wal"))
    return aside


def read_every_table(connection: duckdb.DuckDBPyConnection) -> None:
    """Read every stored row once: a damaged block otherwise opens fine and fails much later, when a
    model or the publish checkpoint touches it ("Corrupt database file")."""
    tables = connection.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database()"
    ).fetchall()
    for schema, table in tables:
        connection.execute(f'SELECT sum(hash(stored)) FROM "{schema}"."{table}" AS stored').fetchall()


def _open(build_file: Path) -> duckdb.DuckDBPyConnection:
    connection = connect_build(build_file)
    try:
        read_every_table(connection)
    except BaseException:
        connection.close()
        raise
    return connection


@contextmanager
def rebuildable_connection(build_file: Path, logger: logging.Logger = log) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write connection to `build_file`, replacing it by an empty one when DuckDB finds it corrupt."""
    build_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = _open(build_file)
    except duckdb.Error as error:
        if is_disk_full(error):
            raise DiskFullError(build_file, "the published warehouse is unchanged") from error
        if not looks_corrupt(error):
            raise
        aside = move_aside(build_file)
        logger.warning(
            f"build warehouse {build_file} is corrupt ({str(error).splitlines()[0]}); moved it to {aside} and "
            f"rebuilding it from the lake (the check history in dq_check_results restarts). "
            f"Delete {aside} once you no longer need it."
        )
        connection = connect_build(build_file)
    connection.execute("SET enable_progress_bar = false")  # a scheduler's log is not a terminal
    try:
        yield connection
    finally:
        connection.close()
