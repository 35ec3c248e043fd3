"""The storage format of the warehouse files, and how the build file is opened.

The published file must be readable by DuckDB 1.x: most readers (the 1.x CLI, the drivers BI tools
bundle: Metabase's, Superset's through duckdb_engine, Evidence's) are 1.x, and DuckDB 2.x writes a
format they refuse by default. v1.0.0 is what every DuckDB from 1.0 up reads (1.x readers accept
64..68; this is 64). A file's format is fixed when it is created, so the build file is created in
it and the publish stays a plain file copy. Every stage that opens the build file (the load, the
resources the models and checks use, the publish) shares this, so it lives below all of them.

Every pipeline connection is held to a memory limit from configuration (TM_DUCKDB_MEMORY_LIMIT),
so what a run needs is bounded by configuration and not by the account's size: beyond it DuckDB
spills to `temp_directory` on disk. Threads stay DuckDB's default, one per core of the machine.

Checkpoints do not vacuum (`max_vacuum_tasks = 0`): an incremental load deletes a few rows spread
over every row group of raw.checkpoints, and a vacuuming checkpoint then rewrites all of them, a
cost that grows with the table instead of with the change. The load vacuums on purpose instead,
once the rows it deleted since the last vacuum are a tenth of the table (load/merge.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

READER_STORAGE_VERSION = "v1.0.0"
DEFAULT_MEMORY_LIMIT = "4GB"
VACUUM_TASKS = 100  # DuckDB's default, for the checkpoints that do vacuum


@dataclass(frozen=True)
class DuckDBLimits:
    """How much memory a pipeline connection may hold, and where it spills the rest."""

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_directory: str = ""  # "" = DuckDB's default, `<database>.tmp` beside the file

    def config(self) -> dict[str, str | bool | int | float | list[str]]:
        settings: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": self.memory_limit, "max_vacuum_tasks": 0,
        }
        if self.temp_directory:
            settings["temp_directory"] = self.temp_directory
        return settings


def connect_build(
    build_file: Path, read_only: bool = False, limits: DuckDBLimits | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the build file; a new one is created in READER_STORAGE_VERSION (an existing file keeps its own)."""
    config = (limits or DuckDBLimits()).config()
    if read_only:
        return duckdb.connect(str(build_file), read_only=True, config=config)
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
