"""One load of the warehouse: audit the lake, then merge what is new or rebuild in full (load/plan.py).

The audit trusts the files the build file records as loaded by their size, so the audit, like the
merge, costs in proportion to what is new; a full load asked for re-hashes everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import duckdb

from tm_pipeline.accounts import DEFAULT_ACCOUNT
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.accounts import audit_account_lakes
from tm_pipeline.load.bookkeeping import INCREMENTAL, read_loaded_files
from tm_pipeline.load.merge import SchemaChanged, merge_new_files
from tm_pipeline.load.plan import full_plan, plan_load
from tm_pipeline.load.raw_tables import LoadSummary, load_raw_tables

log = logging.getLogger(__name__)


def load_warehouse(
    connection: duckdb.DuckDBPyConnection,
    lakes: Lake | Sequence[tuple[str, str, Lake]],
    full_load: bool = False,
    logger: logging.Logger = log,
) -> LoadSummary:
    """Bring raw.* up to date with the verified lakes, (account, prefix, lake) each (one Lake: the
    default account's alone): incrementally when only files were added."""
    if isinstance(lakes, Lake):
        lakes = [(DEFAULT_ACCOUNT, "", lakes)]
    loaded = None if full_load else read_loaded_files(connection)
    accounts = audit_account_lakes(lakes, {file: record.known() for file, record in (loaded or {}).items()})
    plan = plan_load(accounts, loaded, full_load)
    if plan.mode == INCREMENTAL:
        try:
            summary = merge_new_files(connection, accounts, plan)
        except SchemaChanged as change:
            plan = full_plan(accounts, str(change))
        else:
            logger.info(
                f"incremental load: {plan.files_to_read} new lake file(s), "
                f"{summary.trackings_changed} tracking(s) changed"
            )
            return summary
    logger.info(f"full rebuild of raw.* from the lake: {plan.full_reason}")
    return load_raw_tables(connection, full_reason=plan.full_reason, accounts=accounts)
