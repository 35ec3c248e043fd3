"""Dagster asset, job and schedule: compact the lake daily (tm_pipeline/landing/compaction.py).

It runs in the warehouse pool: it deletes the files of extractions an earlier run compacted, and a
load must never be reading them then. It never takes the API pool, so it may run while a sync
extracts (only complete extractions are compacted, never the running one).

Each account's lake (`lake/` for the default account, where webhook pushes land too, and
`lake/account=<name>/` for a named one) is compacted on its own, against its own manifests, one
after the other in the same run.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
from dagster import DagsterLogManager

from tm_pipeline.contracts.pools import WAREHOUSE_POOL
from tm_pipeline.extract.assets import ACCOUNT_EXTRACTS, ACCOUNT_LAKES
from tm_pipeline.landing.compaction import DEFAULT_PART_BYTES, DEFAULT_PART_ROWS, MIN_EXTRACTIONS, compact_lake
from tm_pipeline.resources import LakeResource

LAKE_COMPACTION = dg.AssetKey(["lake", "compaction"])
Log = logging.Logger | DagsterLogManager  # a run's log, or a plain logger (tests, tools)


class CompactionConfig(dg.Config):
    part_rows: int = DEFAULT_PART_ROWS
    """At most this many rows in one part."""
    part_bytes: int = DEFAULT_PART_BYTES
    """A part is closed once its encoded (compressed) size reaches about this many bytes."""
    min_extractions: int = MIN_EXTRACTIONS
    """A window is compacted only when it has at least this many complete extractions to compact."""


@dg.asset(
    key=LAKE_COMPACTION,
    deps=[key for part in ACCOUNT_EXTRACTS for key in (part.trackings_key, part.api_calls_key)],
    group_name="maintenance",
    pool=WAREHOUSE_POOL,
    kinds={"parquet"},
    description="Rewrites the many small files of complete extractions into few parts per window, keeping "
    "every row (every version of every tracking); the files it replaced are deleted by its next run.",
)
# Dagster recognises only the bare MaterializeResult class in an asset's return annotation.
def lake_compaction(
    context: dg.AssetExecutionContext, config: CompactionConfig, lake: LakeResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    return dg.MaterializeResult(metadata=compact_account_lakes(lake, ACCOUNT_LAKES, config, context.log))


def compact_account_lakes(
    lake: LakeResource, account_lakes: Sequence[tuple[str, str]], config: CompactionConfig, log: Log
) -> dict[str, Any]:
    """Compact each (account, lake prefix) lake against its own manifests; the run's metadata, summed."""
    totals: dict[str, float] = {}
    compactions: list[str] = []
    skipped = 0
    for account, prefix in account_lakes:
        whose = f"account {account}"
        summary = compact_lake(
            lake.lake(prefix), part_rows=config.part_rows, part_bytes=config.part_bytes,
            min_extractions=config.min_extractions, progress=_progress_of(log, whose),
        )
        if summary.uncommitted_parts_removed:
            log.warning(
                f"{whose}: removed parts a killed compaction left uncommitted: {summary.uncommitted_parts_removed}"
            )
        for extraction_id, why in sorted(summary.skipped.items()):
            log.info(f"{whose}: extraction {extraction_id} not compacted: {why}")
        skipped += len(summary.skipped)
        compactions += [f"{prefix}/{c}" if prefix else c for c in summary.compactions]
        for name, value in (
            ("extractions_compacted", summary.extractions_compacted),
            ("rows", summary.rows), ("files_read", summary.files_read), ("parts_written", summary.parts_written),
            ("old_files_deleted", summary.files_deleted), ("marks_completed", summary.marks_completed),
            ("elapsed_s", summary.elapsed_s),
        ):
            totals[name] = totals.get(name, 0) + value
    return {
        "compactions": compactions,
        **{name: (round(value, 2) if name == "elapsed_s" else int(value)) for name, value in totals.items()},
        "extractions_skipped": skipped,
        "accounts": len(account_lakes),
    }


def _progress_of(log: Log, whose: str) -> Callable[[str], None]:
    return lambda line: log.info(f"{whose}: {line}")


compaction_job = dg.define_asset_job(
    "lake_compaction",
    selection=dg.AssetSelection.assets(LAKE_COMPACTION),
    description="Compact the lake: few large Parquet parts per window instead of one file per page.",
    executor_def=dg.in_process_executor,
)

compaction_daily = dg.ScheduleDefinition(
    name="lake_compaction_daily",
    job=compaction_job,
    cron_schedule="30 1 * * *",  # between the 00:00 and 03:00 syncs, UTC
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily lake compaction (01:30 UTC, between two incremental syncs).",
)
