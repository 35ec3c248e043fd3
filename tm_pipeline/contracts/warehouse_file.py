"""The storage format of the warehouse files, and how the build file is opened.

The published file must be readable by DuckDB 1.x: most readers (the 1.x CLI, the drivers BI tools
bundle: Metabase's, Superset's through duckdb_engine, Evidence's) are 1.x, and DuckDB 2.x writes a
format they refuse by default. v1.0.0 is what every DuckDB from 1.0 up reads (1.x readers accept
64..68; this is 64). A file's format is fixed when it is created, so the build file is created in
it and the publish stays a plain hard link. Every stage that opens the build file (the load, the
resources the models and checks use, the publish) shares this, so it lives below all of them.

Every pipeline step is held to a memory budget from configuration (TM_DUCKDB_MEMORY_LIMIT), so
what a run needs is bounded by configuration and not by the account's size. DuckDB's own limit is
a share of the budget (DUCKDB_SHARE): it bounds DuckDB's buffer manager only, and a process also
holds what that does not count (the Python interpreter, Dagster, pyarrow, DuckDB's untracked
allocations); at 10M trackings a 4GB DuckDB limit peaked at 4.5 GB of process memory. Beyond its
share DuckDB spills to `temp_directory` on disk. Threads stay DuckDB's default, one per core.

The publish shares the build file with readers instead of copying it (publish/snapshot.py): the
published name becomes a second hard link to the build file's inode. So before anything writes the
build file again, `connect_build` gives the build name an inode no reader can have open
(`detach_from_readers`): the spare, the file published the time before, when no reader still holds
it (its incremental load then catches up from the lake, two syncs at once), else a fresh copy of the
published file. The published inode becomes the next spare. Readers keep their snapshot; a run is
never blocked by them. Everything in a build file is derived from the lake except the history the
checks append (HISTORY_TABLES): a spare takes the rows the published file has beyond its own.

Checkpoints do not vacuum (`max_vacuum_tasks = 0`): an incremental load deletes a few rows spread
over every row group of raw.checkpoints, and a vacuuming checkpoint then rewrites all of them, a
cost that grows with the table instead of with the change. The load vacuums on purpose instead,
once the rows it deleted since the last vacuum are a tenth of the table (load/merge.py).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

READER_STORAGE_VERSION = "v1.0.0"
CHECK_RESULTS_TABLE = "main.dq_check_results"  # every asset check's outcome (models/results.py)
# Tables a run appends to that no load can derive from the lake, with the column that orders them.
HISTORY_TABLES = {CHECK_RESULTS_TABLE: "checked_at"}
DEFAULT_MEMORY_LIMIT = "4GB"
DUCKDB_SHARE = 0.7  # of the budget, for DuckDB's buffer manager; the rest is the process's own
VACUUM_TASKS = 100  # DuckDB's default, for the checkpoints that do vacuum
WRITABLE_MODE = 0o644  # a spare taken back as the build file (the publish made it read-only)
_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_AMOUNT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)\s*", re.IGNORECASE)


def utc_now() -> datetime:
    """Wall-clock UTC without a zone: how the warehouse's bookkeeping stores times (loads, model state)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def budget_bytes(amount: str) -> int:
    """`4GB`, `512MB`, `1.5GiB` in bytes (DuckDB's units: KB = 1000 bytes, KiB = 1024)."""
    match = _AMOUNT.fullmatch(amount)
    if match is None:
        raise ValueError(f"not an amount of memory with its unit (like 4GB or 512MB): {amount!r}")
    return int(float(match[1]) * _UNITS[match[2].lower()])


@dataclass(frozen=True)
class DuckDBLimits:
    """How much memory a pipeline step may hold, and where DuckDB spills the rest."""

    memory_limit: str = DEFAULT_MEMORY_LIMIT  # the step's budget; DuckDB gets DUCKDB_SHARE of it
    temp_directory: str = ""  # "" = DuckDB's default, `<database>.tmp` beside the file

    @property
    def duckdb_memory_limit(self) -> str:
        return f"{budget_bytes(self.memory_limit) * DUCKDB_SHARE / 10**6:.0f}MB"

    def config(self) -> dict[str, str | bool | int | float | list[str]]:
        settings: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": self.duckdb_memory_limit, "max_vacuum_tasks": 0,
        }
        if self.temp_directory:
            settings["temp_directory"] = self.temp_directory
        return settings


def spare_of(build_file: Path) -> Path:
    return build_file.with_name(build_file.stem + ".spare" + build_file.suffix)


def _ready_spare(spare: Path, published: Path) -> bool:
    """Whether the spare can be built on: nobody has it open (a reader's lock makes the write open
    fail), no write-ahead log, a DuckDB file; if so it is given the history the published file has
    beyond its own first, so a crash after this leaves a spare that is merely more complete."""
    if not spare.exists() or spare.stat().st_nlink != 1 or spare.with_name(spare.name + ".wal").exists():
        return False
    os.chmod(spare, WRITABLE_MODE)  # published files are read-only on disk (publish/snapshot.py)
    try:
        with duckdb.connect(str(spare)) as connection:
            _carry_history(connection, published)
    except duckdb.Error:  # locked by a reader, or damaged: the caller copies the published file instead
        return False
    return True


def detach_from_readers(build_file: Path) -> str:
    """Give `build_file` an inode of its own before it is written, if the publish shared it; says how.

    '' (not shared), 'spare' (the previous publish's file, free) or 'copy' (the spare is held by a
    reader or missing: a copy of the published file). The shared inode stays published and becomes
    the spare. Each step is one link or rename: a crash between them leaves the build file shared
    (this runs again) or detached, and at worst no spare (the next detach copies)."""
    next_spare = build_file.with_name(f".{build_file.name}.next-spare")
    next_spare.unlink(missing_ok=True)  # left by a crash mid-detach
    try:
        if os.stat(build_file).st_nlink == 1:
            return ""
    except FileNotFoundError:
        return ""
    spare = spare_of(build_file)
    os.link(build_file, next_spare)
    if _ready_spare(spare, next_spare):
        os.replace(spare, build_file)
        how = "spare"
    else:
        # the one slow case (seconds per GB): say why it happens, so a waiting run is explained
        why = "not free (a reader holds it open, or it is damaged)" if spare.exists() else "missing"
        size_mb = os.stat(build_file).st_size / 1e6
        log.info(f"copying the published warehouse ({size_mb:,.0f} MB) to build on: the spare {spare} is {why}")
        copy = build_file.with_name(f".{build_file.name}.copy")
        try:
            shutil.copyfile(build_file, copy)
        except OSError:
            copy.unlink(missing_ok=True)  # a full disk leaves no partial copy behind
            next_spare.unlink(missing_ok=True)
            raise
        os.replace(copy, build_file)
        how = "copy"
    os.replace(next_spare, spare)
    return how


def _carry_history(connection: duckdb.DuckDBPyConnection, newer: Path) -> None:
    """Append the HISTORY_TABLES rows that `newer` (the published file) has beyond this connection's file."""
    connection.execute(f"ATTACH '{str(newer).replace(chr(39), chr(39) * 2)}' AS newer (READ_ONLY)")
    present = {
        f"{schema}.{table}" for schema, table in connection.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'newer'"
        ).fetchall()
    }
    for table, order in HISTORY_TABLES.items():
        if table not in present:
            continue
        connection.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM newer.{table} LIMIT 0")
        connection.execute(
            f"INSERT INTO {table} SELECT * FROM newer.{table} "
            f"WHERE {order} > (SELECT coalesce(max({order}), '-infinity') FROM {table})"
        )
    connection.execute("DETACH newer")


def connect_build(
    build_file: Path, read_only: bool = False, limits: DuckDBLimits | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the build file; a new one is created in READER_STORAGE_VERSION (an existing file keeps its own).

    A write connection first detaches the file from the published one (see the module docstring)."""
    config = (limits or DuckDBLimits()).config()
    if read_only:
        return duckdb.connect(str(build_file), read_only=True, config=config)
    detach_from_readers(build_file)
    return duckdb.connect(
        str(build_file), config={"storage_compatibility_version": READER_STORAGE_VERSION, **config}
    )


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
