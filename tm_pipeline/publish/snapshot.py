"""Publish the warehouse atomically, so readers never block a run and a run never breaks a reader.

DuckDB lets one process write a file, and a reader's lock would stop that writer. So runs build
into a separate file nobody else opens, and publishing puts a second name on it beside the
published file (a hard link: no bytes copied, whatever the size) and renames that over the
published file in one step. A reader holding the old file keeps a consistent snapshot until it
reconnects; then it sees the new one. It never sees a half-built table. The published file is
read-only on disk (0444): it is the next spare, and an analyst's read-write open must fail rather
than write into a file the pipeline builds on again. The build file is never
written while it is the published one: the next write connection first moves the build name to
another inode (contracts/warehouse_file.py, detach_from_readers). Where a hard link cannot be made
(the published file on another file system), the publish copies, as it did before: a reflink where
the file system offers one, else the bytes.

The published file must be in a storage format DuckDB 1.x reads: DuckDB 2.x writes files that
1.x refuses, and most readers (the 1.x CLI, Metabase's, Superset's and Evidence's drivers) are 1.x.
The build file is created in that format (load/build_file.py), so publishing is a byte copy; a build
file from before that (in 2.x's format) is rewritten in the readers' format instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from tm_pipeline.contracts.warehouse_file import READER_STORAGE_VERSION, DuckDBLimits, looks_corrupt, move_aside
from tm_pipeline.landing.lake import DiskFullError, is_disk_full

__all__ = ["READER_STORAGE_VERSION", "publish_snapshot"]

# The published file is read-only on disk: it is also the build file until the next run detaches it,
# and later that run's spare, so an analyst's write (a read-write open) must fail, not reach a build.
READ_ONLY_MODE = 0o444


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_snapshot(
    build_path: Path, published_path: Path, storage_version: str = READER_STORAGE_VERSION,
    limits: DuckDBLimits | None = None,
) -> int:
    """Copy the closed build file over the published one atomically, in `storage_version` so DuckDB
    1.x readers can open it (a byte copy when the build file is in it already); returns the bytes published.

    On a full disk the partial copy is removed, the published file is left as it was, and
    DiskFullError names the path."""
    if _same_file(build_path, published_path):
        return published_path.stat().st_size  # published already, and nothing has written it since
    try:
        with duckdb.connect(str(build_path), config=(limits or DuckDBLimits()).config()) as connection:
            connection.execute("CHECKPOINT")  # fold the write-ahead log into the file before copying it
            row = connection.execute(
                "SELECT tags FROM duckdb_databases() WHERE database_name = current_database()"
            ).fetchone()
            tags = row[0] if row else {}  # DuckDB always lists the open database; {} means "rewrite"
    except duckdb.Error as error:
        if is_disk_full(error):
            raise DiskFullError(build_path, "the published warehouse is unchanged") from error
        if looks_corrupt(error):
            aside = move_aside(build_path)  # the next load, finding no build file, rebuilds it from the lake
            raise RuntimeError(
                f"the build warehouse {build_path} is corrupt ({str(error).splitlines()[0]}); moved it to {aside} "
                f"and the published warehouse is unchanged. Run again: the load rebuilds it from the lake."
            ) from error
        raise
    leftover_wal = build_path.with_name(build_path.name + ".wal")
    if leftover_wal.exists() and leftover_wal.stat().st_size > 0:
        raise RuntimeError(f"{build_path} still has a write-ahead log: another process is writing it")
    published_path.parent.mkdir(parents=True, exist_ok=True)
    staging = published_path.with_name(f".{published_path.name}.publishing")
    for leftover in (staging, staging.with_name(staging.name + ".wal")):
        leftover.unlink(missing_ok=True)  # a publish that died half-way; nobody reads the staging file
    try:
        if str(tags.get("storage_version", "")).startswith(storage_version):
            _share(build_path, staging)
        else:
            _rewrite(build_path, staging, storage_version, limits or DuckDBLimits())
        os.chmod(staging, READ_ONLY_MODE)
        os.replace(staging, published_path)
    except (OSError, duckdb.Error) as error:
        for partial in (staging, staging.with_name(staging.name + ".wal")):
            partial.unlink(missing_ok=True)
        if is_disk_full(error):
            kept = f"the partial copy {staging.name} was removed and the published file is unchanged"
            raise DiskFullError(published_path, kept) from error
        raise
    return published_path.stat().st_size


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except FileNotFoundError:
        return False


def _share(build_path: Path, staging: Path) -> None:
    """`staging` as a second name of the build file; a copy where the file system cannot link them."""
    try:
        os.link(build_path, staging)
    except OSError:  # another file system (EXDEV), or one without hard links
        _copy(build_path, staging)


# Linux's FICLONE ioctl: the copy shares the source's blocks (copy-on-write), whatever the size.
_FICLONE = 0x40049409


def _copy(build_path: Path, staging: Path) -> None:
    """A reflink where the file system offers one (btrfs, XFS), else a byte copy (ext4 refuses the ioctl)."""
    try:
        import fcntl

        with open(build_path, "rb") as source, open(staging, "wb") as target:
            fcntl.ioctl(target.fileno(), _FICLONE, source.fileno())
        return
    except (ImportError, OSError):
        staging.unlink(missing_ok=True)
    shutil.copyfile(build_path, staging)


def _rewrite(build_path: Path, staging: Path, storage_version: str, limits: DuckDBLimits) -> None:
    """Write every table and view of the build file into `staging`, in `storage_version`."""
    with duckdb.connect(config=limits.config()) as connection:
        connection.execute(f"ATTACH {_sql_string(str(build_path))} AS build (READ_ONLY)")
        connection.execute(
            f"ATTACH {_sql_string(str(staging))} AS published (STORAGE_VERSION {_sql_string(storage_version)})"
        )
        connection.execute("COPY FROM DATABASE build TO published")
        connection.execute("DETACH published")  # checkpoints and closes the file before it is renamed
