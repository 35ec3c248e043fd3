"""The storage format of the warehouse files, and how the build file is opened.

The published file must be readable by DuckDB 1.x: most readers (the 1.x CLI, the drivers BI tools
bundle: Metabase's, Superset's through duckdb_engine, Evidence's) are 1.x, and DuckDB 2.x writes a
format they refuse by default. v1.0.0 is what every DuckDB from 1.0 up reads (1.x readers accept
64..68; this is 64). A file's format is fixed when it is created, so the build file is created in
it and the publish stays a plain file copy. Every stage that opens the build file (the load, the
resources the models and checks use, the publish) shares this, so it lives below all of them.

Every pipeline step is held to a memory budget from configuration (TM_DUCKDB_MEMORY_LIMIT), so
what a run needs is bounded by configuration and not by the account's size. DuckDB's own limit is
a share of the budget (DUCKDB_SHARE): it bounds DuckDB's buffer manager only, and a process also
holds what that does not count (the Python interpreter, Dagster, pyarrow, DuckDB's untracked
allocations); at 10M trackings a 4GB DuckDB limit peaked at 4.5 GB of process memory. Beyond its
share DuckDB spills to `temp_directory` on disk. Threads stay DuckDB's default, one per core.

Checkpoints do not vacuum (`max_vacuum_tasks = 0`): an incremental load deletes a few rows spread
over every row group of raw.checkpoints, and a vacuuming checkpoint then rewrites all of them, a
cost that grows with the table instead of with the change. The load vacuums on purpose instead,
once the rows it deleted since the last vacuum are a tenth of the table (load/merge.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

READER_STORAGE_VERSION = "v1.0.0"
DEFAULT_MEMORY_LIMIT = "4GB"
DUCKDB_SHARE = 0.7  # of the budget, for DuckDB's buffer manager; the rest is the process's own
_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_AMOUNT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)\s*", re.IGNORECASE)


def budget_bytes(amount: str) -> int:
    """`4GB`, `512MB`, `1.5GiB` in bytes (DuckDB's units: KB = 1000 bytes, KiB = 1024)."""
    match = _AMOUNT.fullmatch(amount)
    if match is None:
        raise ValueError(f"not an amount of memory with its unit (like 4GB or 512MB): {amount!r}")
    return int(float(match[1]) * _UNITS[match[2].lower()])
VACUUM_TASKS = 100  # DuckDB's default, for the checkpoints that do vacuum


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
