"""Open the build DuckDB for the load, which can always rebuild it: a corrupt build file heals itself.

Everything in `<data>/build/warehouse.duckdb` is derived from the lake (raw.* by the load, the
models from raw.*), so a file DuckDB cannot open is moved aside with a warning naming it and a new
one is built. The published file is never touched here: analysts keep the last good copy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import duckdb

from tm_pipeline.contracts.warehouse_file import DuckDBLimits, connect_build
from tm_pipeline.landing.lake import DiskFullError, is_disk_full

log = logging.getLogger(__name__)

T = TypeVar("T")

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


def _open(build_file: Path, limits: DuckDBLimits | None) -> duckdb.DuckDBPyConnection:
    connection = connect_build(build_file, limits=limits)
    try:
        read_every_table(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def build_rebuilding_if_corrupt(
    build_file: Path,
    work: Callable[[duckdb.DuckDBPyConnection], T],
    logger: logging.Logger = log,
    limits: DuckDBLimits | None = None,
) -> T:
    """Run `work` on a write connection to `build_file` and checkpoint; if DuckDB finds the file
    corrupt, at open or only while `work` writes its blocks back, move it aside and run once more
    on a new file. Disk full is named as such: DuckDB rolled the work back."""
    build_file.parent.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        try:
            connection = _open(build_file, limits)
            try:
                connection.execute("SET enable_progress_bar = false")  # a scheduler's log is not a terminal
                result = work(connection)
                # A damaged file can open and load fine and fail only when DuckDB writes its blocks
                # back: checkpoint here, where it can be rebuilt, rather than at publish.
                connection.execute("CHECKPOINT")
                return result
            finally:
                connection.close()
        except Exception as error:  # DuckDB's own types carry no errno: its words tell disk full and damage
            if is_disk_full(error) and not isinstance(error, DiskFullError):
                kept = "DuckDB rolled the load back; the published warehouse is unchanged"
                raise DiskFullError(build_file, kept) from error
            if attempt == 2 or not looks_corrupt(error):
                raise
            aside = move_aside(build_file)
            logger.warning(
                f"build warehouse {build_file} is corrupt ({str(error).splitlines()[0]}); moved it to {aside} and "
                f"rebuilding it from the lake (the check history in dq_check_results restarts). "
                f"Delete {aside} once you no longer need it."
            )
    raise AssertionError("unreachable: the second attempt returns or raises")
