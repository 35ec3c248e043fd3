"""The quarantine check: how many list items the latest run could not type, and which.

WARN, never ERROR: the quarantined items are kept with their original bytes and the rest of their
pages landed, so the good data is complete and publishing it is right. An ERROR here would block
every sync for as long as the API keeps sending one malformed item — the failure the quarantine
exists to prevent. The warning names page, position, field and reason so someone can act on it.
"""


from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb

from tm_pipeline.contracts.pools import WAREHOUSE_POOL
from tm_pipeline.load.assets import RAW_QUARANTINE
from tm_pipeline.models.results import CheckRecord, record_check_results
from tm_pipeline.resources import WarehouseResource

CHECK_NAME = "no_quarantined_items"
ITEMS_SHOWN = 5

# The extractions of the latest run (the run of the newest ledger row), as the API checks judge it:
# an item quarantined last week must not warn forever once the API sends it whole.
_LATEST_RUN_QUARANTINE = """
with latest_run as (
    select run_id from raw.api_calls order by requested_at desc, call_seq desc limit 1
), touched as (
    select distinct extraction_id from raw.api_calls where run_id = (select run_id from latest_run)
)
select extraction_id, page, position, tracking_id, field, reason, detail
from raw.quarantine where extraction_id in (select extraction_id from touched)
order by extraction_id, page, position
"""


@dataclass(frozen=True)
class QuarantineVerdict:
    quarantined: int  # items of the latest run
    quarantined_in_lake: int  # every item ever quarantined
    first_items: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        return self.quarantined == 0


def judge_quarantine(connection: duckdb.DuckDBPyConnection) -> QuarantineVerdict:
    cursor = connection.execute(_LATEST_RUN_QUARANTINE)
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    (in_lake,) = connection.execute("select count(*) from raw.quarantine").fetchall()[0]
    return QuarantineVerdict(len(rows), in_lake, rows[:ITEMS_SHOWN])


@dg.asset_check(
    asset=RAW_QUARANTINE,
    name=CHECK_NAME,
    description="No list item of the latest run was quarantined (WARN: the rest of the data landed).",
    blocking=False,
    pool=WAREHOUSE_POOL,
)
def quarantine_check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as connection:
        verdict = judge_quarantine(connection)
        record_check_results(
            connection,
            context.run.run_id,
            [CheckRecord(CHECK_NAME, RAW_QUARANTINE.to_user_string(), verdict.passed, "warn", verdict.quarantined)],
        )
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined": verdict.quarantined,
            "quarantined_in_lake": verdict.quarantined_in_lake,
            "first_items": dg.MetadataValue.json(verdict.first_items),
            "what_to_do": "SELECT * FROM raw.quarantine shows each item's bytes and reason; the tracking lands "
            "once the API sends it whole (ask TrackingMore support about the item if it persists).",
        },
    )
