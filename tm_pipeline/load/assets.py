"""Dagster asset: bring the `raw` schema of the warehouse up to date with the lake, after proving the lake.

A run merges only the files it has not loaded yet, or rebuilds from the whole lake when the lake
changed in any other way (load/plan.py says when) or when asked to (run config `full_load`).

The integrity checks are blocking: a page or ledger part that is not as its manifest committed
stops the models and the publish, so analysts keep the last good warehouse instead of one
silently built on less data.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from tm_pipeline.contracts.dagster_columns import column_schema
from tm_pipeline.contracts.pools import WAREHOUSE_POOL
from tm_pipeline.extract.assets import ACCOUNT_EXTRACTS, ACCOUNT_LAKES
from tm_pipeline.extract.quarantine import QUARANTINE_SCHEMA
from tm_pipeline.landing.integrity import LakeAudit, LakeProblem
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.build_file import build_rebuilding_if_corrupt
from tm_pipeline.load.raw_tables import (
    CHECKPOINTS_SCHEMA,
    RAW_API_CALLS_SCHEMA,
    RAW_TRACKINGS_SCHEMA,
    STATUS_CODES_SCHEMA,
    status_codes_table,
)
from tm_pipeline.load.warehouse_load import load_warehouse
from tm_pipeline.resources import LakeResource, WarehouseResource
from tm_pipeline.webhooks.assets import LAKE_PUSHES

RAW_TRACKINGS = dg.AssetKey(["raw", "trackings"])
RAW_CHECKPOINTS = dg.AssetKey(["raw", "checkpoints"])
RAW_API_CALLS = dg.AssetKey(["raw", "api_calls"])
RAW_STATUS_CODES = dg.AssetKey(["raw", "status_codes"])
RAW_QUARANTINE = dg.AssetKey(["raw", "quarantine"])

# Eager, except that days never backfilled do not count as missing: almost every created-day
# partition is, by design, and `eager()` waits for all of a dependency's partitions. A day that
# is backfilled still counts as an update and triggers the load. Pushes never sealed (no webhook
# receiver) do not count as missing either.
# Every configured account's lake feeds the one load; pushes land in the default account's lake.
LAKE_TRACKINGS_KEYS = [
    *(key for part in ACCOUNT_EXTRACTS for key in (part.trackings_key, part.backfill_key)), LAKE_PUSHES
]
LAKE_API_CALLS_KEYS = [key for part in ACCOUNT_EXTRACTS for key in (part.api_calls_key, part.backfill_key)]
LAKE_BACKFILL_KEYS = [part.backfill_key for part in ACCOUNT_EXTRACTS]
FOLLOWS_THE_LAKE = dg.AutomationCondition.eager().replace(
    "any_deps_missing",
    dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets(*LAKE_BACKFILL_KEYS, LAKE_PUSHES)),
)


class LoadConfig(dg.Config):
    full_load: bool = False  # rebuild raw.* from the whole lake, re-hashing every file (`sync --full-load`)


LAKE_CHECK = "lake_matches_manifests"
LEDGER_CHECK = "ledger_matches_manifests"

PAGE_ADVICE = (
    "Run the sync again with the API reachable: the extract step re-extracts a damaged extraction with its "
    "exact params. If that is impossible, `tm-pipeline lake accept-loss <file>` records the loss in the manifest."
)
LEDGER_ADVICE = (
    "A ledger part is the evidence of what the API answered and cannot be fetched again. Restore it from a "
    "backup, or record the loss with `tm-pipeline lake accept-loss <file>` (see docs/operations.md)."
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RAW_TRACKINGS,
            deps=LAKE_TRACKINGS_KEYS,
            description="One row per tracking (the latest state wins), typed columns; the original JSON is "
            "in the view raw.tracking_json over the Parquet lake.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(RAW_TRACKINGS_SCHEMA)},
            automation_condition=FOLLOWS_THE_LAKE,
        ),
        dg.AssetSpec(
            RAW_CHECKPOINTS,
            deps=LAKE_TRACKINGS_KEYS,
            description="One row per scan event, unnested from origin_info/destination_info.trackinfo.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(CHECKPOINTS_SCHEMA)},
            automation_condition=FOLLOWS_THE_LAKE,
        ),
        dg.AssetSpec(
            RAW_API_CALLS,
            deps=LAKE_API_CALLS_KEYS,
            description="The ledger of every HTTP attempt, for the API status checks and api_health_daily.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(RAW_API_CALLS_SCHEMA)},
            automation_condition=FOLLOWS_THE_LAKE,
        ),
        dg.AssetSpec(
            RAW_STATUS_CODES,
            description="The TrackingMore v2 meta.code seed table: type, meaning, category and the pipeline's action.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(STATUS_CODES_SCHEMA)},
            automation_condition=FOLLOWS_THE_LAKE,
        ),
        dg.AssetSpec(
            RAW_QUARANTINE,
            deps=LAKE_TRACKINGS_KEYS,
            description="List items that could not be typed (no id, wrong types, not an object, lone surrogates): "
            "where they came from, why, and their original bytes.",
            kinds={"duckdb"},
            metadata={"dagster/column_schema": column_schema(QUARANTINE_SCHEMA)},
            automation_condition=dg.AutomationCondition.eager(),
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            LAKE_CHECK, asset=RAW_TRACKINGS, blocking=True,
            description="Every page the manifests list is in the lake with the rows and SHA-256 committed.",
        ),
        dg.AssetCheckSpec(
            LEDGER_CHECK, asset=RAW_API_CALLS, blocking=True,
            description="Every ledger part the manifests list is in the lake with the rows and SHA-256 committed.",
        ),
    ],
    group_name="load",
    pool=WAREHOUSE_POOL,
)
def warehouse_raw_tables(
    context: dg.AssetExecutionContext, config: LoadConfig, lake: LakeResource, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult[None] | dg.AssetCheckResult]:
    # Each account's lake as DuckDB reads it (a remote lake: its verified local mirror).
    lakes, remote_strays = [], []
    for account, prefix in ACCOUNT_LAKES:
        store, strays = lake.lake_for_load(context.log.info, prefix)
        lakes.append((account, prefix, store))
        remote_strays += [f"{prefix}/{stray}" if prefix else stray for stray in strays]
    # Files are named where they live (s3://... for a remote lake), not in the mirror, and relative
    # to the top lake (`account=<name>/...` for a named account).
    named = lake.lake()
    summary = build_rebuilding_if_corrupt(
        warehouse.build_file,
        lambda connection: load_warehouse(connection, lakes, config.full_load, context.log),
        context.log,
        warehouse.limits,
    )
    audit = summary.audit
    audit.strays += remote_strays
    for problem in audit.problems:
        context.log.error(
            f"lake file not as committed: {named.location}/{problem.file}: {problem.kind} ({problem.detail})"
        )
    if audit.strays:
        context.log.warning(f"{len(audit.strays)} lake files are in no manifest and were not loaded: {audit.strays}")
    yield dg.MaterializeResult(
        asset_key=RAW_TRACKINGS,
        metadata={
            "dagster/row_count": summary.trackings, "load_mode": summary.mode,
            "full_rebuild_because": summary.full_reason or "-", "trackings_changed": summary.trackings_changed,
            "files_read": summary.files_read, "duplicates_collapsed": summary.duplicates_collapsed,
            "files_verified": len(audit.trackings_files), "stray_files_not_loaded": audit.strays,
        },
    )
    yield dg.MaterializeResult(asset_key=RAW_CHECKPOINTS, metadata={"dagster/row_count": summary.checkpoints})
    yield dg.MaterializeResult(
        asset_key=RAW_API_CALLS,
        metadata={"dagster/row_count": summary.api_calls, "files_loaded": len(audit.api_calls_files)},
    )
    seed_rows = status_codes_table().num_rows
    yield dg.MaterializeResult(asset_key=RAW_STATUS_CODES, metadata={"dagster/row_count": seed_rows})
    yield dg.MaterializeResult(asset_key=RAW_QUARANTINE, metadata={"dagster/row_count": summary.quarantined})
    yield from _integrity_results(named, audit)


def _problem_rows(store: Lake, problems: list[LakeProblem]) -> list[dict[str, str]]:
    return [
        {"file": f"{store.location}/{p.file}", "extraction_id": p.extraction_id, "problem": p.kind, "detail": p.detail}
        for p in problems
    ]


def _integrity_results(store: Lake, audit: LakeAudit) -> Iterator[dg.AssetCheckResult]:
    for check, asset_key, problems, verified, advice in (
        (LAKE_CHECK, RAW_TRACKINGS, audit.page_problems, audit.trackings_files, PAGE_ADVICE),
        (LEDGER_CHECK, RAW_API_CALLS, audit.ledger_problems, audit.api_calls_files, LEDGER_ADVICE),
    ):
        metadata: dict[str, Any] = {"files_verified": len(verified), "problems": len(problems)}
        if problems:
            metadata["files"] = dg.MetadataValue.json(_problem_rows(store, problems))
            metadata["what_to_do"] = advice
        yield dg.AssetCheckResult(
            asset_key=asset_key, check_name=check, passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
            description="; ".join(str(p) for p in problems[:5]) or None,
        )
