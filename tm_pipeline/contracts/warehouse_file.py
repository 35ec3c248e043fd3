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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

READER_STORAGE_VERSION = "v1.0.0"
DEFAULT_MEMORY_LIMIT = "4GB"


@dataclass(frozen=True)
class DuckDBLimits:
    """How much memory a pipeline connection may hold, and where it spills the rest."""

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_directory: str = ""  # "" = DuckDB's default, `<database>.tmp` beside the file

    def config(self) -> dict[str, str | bool | int | float | list[str]]:
        settings: dict[str, str | bool | int | float | list[str]] = {"memory_limit": self.memory_limit}
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
