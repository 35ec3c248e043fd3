"""Open the build DuckDB for the load, which can always rebuild it: a corrupt build file heals itself.

Everything in `<data>/build/warehouse.duckdb` is derived from the lake (raw.* by the load, the
models from raw.*), so a file DuckDB cannot open is moved aside with a warning naming it and a new
one is built. The published file is never touched here: analysts keep the last good copy.

The load no longer reads every stored row first: that cost grows with the warehouse, not with the
change. A damaged block is found when a step reads it (DuckDB checks each block's checksum): in
the load, the file is moved aside and rebuilt at once; in the models, checks or publish, the step
fails and moves the file aside (contracts/warehouse_file.py), so the next run rebuilds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from tm_pipeline.contracts.warehouse_file import DuckDBLimits, connect_build, looks_corrupt, move_aside
from tm_pipeline.landing.lake import DiskFullError, is_disk_full

log = logging.getLogger(__name__)

T = TypeVar("T")

def _open(build_file: Path, limits: DuckDBLimits | None) -> duckdb.DuckDBPyConnection:
    return connect_build(build_file, limits=limits)


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
