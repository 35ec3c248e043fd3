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

from tm_pipeline.landing.lake import DiskFullError, is_disk_full


def publish_snapshot(build_path: Path, published_path: Path) -> int:
    """Copy the closed build file over the published one atomically; returns the bytes published.

    On a full disk the partial copy is removed, the published file is left as it was, and
    DiskFullError names the path."""
    try:
        with duckdb.connect(str(build_path)) as connection:
            connection.execute("CHECKPOINT")  # fold the write-ahead log into the file before copying it
    except duckdb.Error as error:
        if is_disk_full(error):
            raise DiskFullError(build_path, "the published warehouse is unchanged") from error
        if "corrupt" in str(error).lower():
            raise RuntimeError(
                f"the build warehouse {build_path} is corrupt ({str(error).splitlines()[0]}); the published "
                f"warehouse is unchanged. Run again: the load moves a corrupt build file aside and rebuilds it."
            ) from error
        raise
    leftover_wal = build_path.with_name(build_path.name + ".wal")
    if leftover_wal.exists() and leftover_wal.stat().st_size > 0:
        raise RuntimeError(f"{build_path} still has a write-ahead log: another process is writing it")
    published_path.parent.mkdir(parents=True, exist_ok=True)
    staging = published_path.with_name(f".{published_path.name}.publishing")
    try:
        shutil.copyfile(build_path, staging)
        os.replace(staging, published_path)
    except OSError as error:
        staging.unlink(missing_ok=True)
        if is_disk_full(error):
            kept = f"the partial copy {staging.name} was removed and the published file is unchanged"
            raise DiskFullError(published_path, kept) from error
        raise
    return published_path.stat().st_size
