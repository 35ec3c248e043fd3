"""The storage format of the warehouse files, and how the build file is opened.

The published file must be readable by DuckDB 1.x: most readers (the 1.x CLI, the drivers BI tools
bundle: Metabase's, Superset's through duckdb_engine, Evidence's) are 1.x, and DuckDB 2.x writes a
format they refuse by default. v1.0.0 is what every DuckDB from 1.0 up reads (1.x readers accept
64..68; this is 64). A file's format is fixed when it is created, so the build file is created in
it and the publish stays a plain file copy. Every stage that opens the build file (the load, the
resources the models and checks use, the publish) shares this, so it lives below all of them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

READER_STORAGE_VERSION = "v1.0.0"


def connect_build(build_file: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the build file; a new one is created in READER_STORAGE_VERSION (an existing file keeps its own)."""
    if read_only:
        return duckdb.connect(str(build_file), read_only=True)
    return duckdb.connect(str(build_file), config={"storage_compatibility_version": READER_STORAGE_VERSION})
