"""Publish the warehouse atomically, so readers never block a run and a run never breaks a reader.

DuckDB lets one process write a file, and a reader's lock would stop that writer. So runs build
into a separate file nobody else opens, and publishing copies it beside the published file and
renames it over that file in one step. A reader holding the old file keeps a consistent snapshot
until it reconnects; then it sees the new one. It never sees a half-built table.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb


def publish_snapshot(build_path: Path, published_path: Path) -> int:
    """Copy the closed build file over the published one atomically; returns the bytes published."""
    with duckdb.connect(str(build_path)) as connection:
        connection.execute("CHECKPOINT")  # fold the write-ahead log into the file before copying it
    leftover_wal = build_path.with_name(build_path.name + ".wal")
    if leftover_wal.exists() and leftover_wal.stat().st_size > 0:
        raise RuntimeError(f"{build_path} still has a write-ahead log: another process is writing it")
    published_path.parent.mkdir(parents=True, exist_ok=True)
    staging = published_path.with_name(f".{published_path.name}.publishing")
    shutil.copyfile(build_path, staging)
    os.replace(staging, published_path)
    return published_path.stat().st_size
