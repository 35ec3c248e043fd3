"""Merge only the lake files a warehouse has not loaded yet into `raw.*` (an incremental load).

The result must be the full rebuild's, row for row (tests/test_load_incremental.py proves it):

- raw.trackings: per tracking the new files' best row, kept only where it beats the row already
  in raw.trackings under the same WINNER_ORDER; those trackings' rows are replaced.
- raw.checkpoints: deleted and unnested again for exactly those trackings.
- Both stamp the rows they write with this load's loaded_at (appended: the models find them cheaply).
- raw.api_calls, raw.quarantine: the new parts appended (history is kept, never replaced).
- raw.changed_trackings: those trackings, for the models; raw.load_info says `incremental`.

Trackings are keyed by (account, tracking_id): the same id in two accounts is two trackings.

One transaction: a failure leaves raw.* as the last load left it, and the record of loaded files
with it. What it costs grows with the new files, not with the lake.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from tm_pipeline.contracts.warehouse_file import VACUUM_TASKS, utc_now
from tm_pipeline.extract.ledger import LEDGER_SCHEMA
from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA
from tm_pipeline.extract.quarantine import QUARANTINE_SCHEMA
from tm_pipeline.load.accounts import AccountLake, merged_audit
from tm_pipeline.load.bookkeeping import (
    API_CALLS,
    INCREMENTAL,
    QUARANTINE,
    TRACKINGS,
    add_loaded_files,
    rows_deleted_since_vacuum,
    write_load_info,
)
from tm_pipeline.load.plan import LoadPlan
from tm_pipeline.load.raw_tables import (
    CHECKPOINTS_SELECT,
    WINNER_ORDER,
    LoadSummary,
    create_tracking_json_view,
    loaded_records,
    source,
    sql_timestamp,
    status_codes_table,
    table_counts,
)

# Deleted rows keep their space until a vacuum; one is due when they reach this share of the live rows.
VACUUM_AT_DELETED_SHARE = 0.10


class SchemaChanged(Exception):
    """New files carry columns raw.trackings does not have: only a full rebuild can add them."""


_NEW_WINNERS_SQL = f"""
CREATE OR REPLACE TEMP TABLE new_winners AS
SELECT account, tracking_id, extraction_id, page, updated_at, fetched_at FROM {{new}}
QUALIFY row_number() OVER (PARTITION BY account, tracking_id ORDER BY {WINNER_ORDER}) = 1
"""

# A new row wins only over the tracking's current row, under the same order a full rebuild uses.
_CHANGED_WINNERS_SQL = f"""
CREATE OR REPLACE TEMP TABLE changed_winners AS
SELECT account, tracking_id, extraction_id, page FROM (
    SELECT account, tracking_id, extraction_id, page, updated_at, fetched_at, true AS landed_now FROM new_winners
    UNION ALL
    SELECT kept.account, kept.tracking_id, kept.extraction_id, kept.page, kept.updated_at, kept.fetched_at, false
    FROM raw.trackings AS kept SEMI JOIN new_winners
        ON kept.account = new_winners.account AND kept.tracking_id = new_winners.tracking_id
)
QUALIFY row_number() OVER (PARTITION BY account, tracking_id ORDER BY {WINNER_ORDER}) = 1 AND landed_now
"""

_WON = """SEMI JOIN changed_winners AS won
    ON landed.account = won.account AND landed.tracking_id = won.tracking_id
    AND landed.extraction_id = won.extraction_id AND landed.page = won.page
"""
_WINNING_ROWS = "SELECT landed.* EXCLUDE (raw_json), {loaded_at} AS loaded_at FROM {new} AS landed " + _WON
_WINNING_JSON = "SELECT landed.account, landed.tracking_id, landed.raw_json FROM {new} AS landed " + _WON

# The rows of a table whose (account, tracking_id) is among the changed winners.
_OF_CHANGED = "WHERE (account, tracking_id) IN (SELECT (account, tracking_id) FROM changed_winners)"


def _columns(connection: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    return {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def merge_new_files(
    connection: duckdb.DuckDBPyConnection, accounts: Sequence[AccountLake], plan: LoadPlan
) -> LoadSummary:
    """Apply `plan` (incremental) to raw.*; raises SchemaChanged when only a full rebuild can."""
    audit = merged_audit(accounts)
    loaded_at = utc_now()
    new = source(connection, plan.files(TRACKINGS), TRACKINGS_SCHEMA, "new_trackings")
    new_calls = source(connection, plan.files(API_CALLS), LEDGER_SCHEMA, "new_api_calls")
    new_quarantine = source(connection, plan.files(QUARANTINE), QUARANTINE_SCHEMA, "new_quarantine")
    unknown = _columns(connection, new) - _columns(connection, "raw.trackings") - {"raw_json"}
    if plan.files(TRACKINGS) and unknown:
        raise SchemaChanged(f"new trackings files carry columns raw.trackings lacks: {sorted(unknown)}")
    records = loaded_records(plan.new_files) + loaded_records(plan.already_loaded)
    rewritten = loaded_records(plan.rewritten)
    deleted_before = rows_deleted_since_vacuum(connection)
    connection.register("seed_status_codes", status_codes_table())
    connection.execute("BEGIN TRANSACTION")
    connection.execute("CREATE OR REPLACE TABLE raw.status_codes AS SELECT * FROM seed_status_codes")
    connection.execute(_NEW_WINNERS_SQL.replace("{new}", new))
    connection.execute(_CHANGED_WINNERS_SQL)
    (deleted,) = connection.execute(
        f"DELETE FROM raw.trackings {_OF_CHANGED}"
    ).fetchall()[0]
    stamp = sql_timestamp(loaded_at)
    connection.execute(
        "INSERT INTO raw.trackings BY NAME " + _WINNING_ROWS.replace("{new}", new).replace("{loaded_at}", stamp)
    )
    (deleted_checkpoints,) = connection.execute(
        f"DELETE FROM raw.checkpoints {_OF_CHANGED}"
    ).fetchall()[0]
    connection.execute(
        "INSERT INTO raw.checkpoints BY NAME " + CHECKPOINTS_SELECT.replace("{json_rows}", _WINNING_JSON)
        .replace("{new}", new).replace("{loaded_at}", stamp)
    )
    connection.execute(f"INSERT INTO raw.api_calls BY NAME SELECT * FROM {new_calls} ORDER BY ALL")
    connection.execute(
        f"INSERT INTO raw.quarantine BY NAME SELECT * FROM {new_quarantine} "
        "ORDER BY account, extraction_id, page, position"
    )
    connection.execute(
        "CREATE OR REPLACE TABLE raw.changed_trackings AS SELECT account, tracking_id FROM changed_winners"
    )
    add_loaded_files(connection, records + rewritten, loaded_at, plan.retired + [r.file for r in rewritten])
    deleted_since_vacuum = deleted_before + deleted + deleted_checkpoints
    (live_rows,) = connection.execute(
        "SELECT (SELECT count(*) FROM raw.trackings) + (SELECT count(*) FROM raw.checkpoints)"
    ).fetchall()[0]
    vacuum = deleted_since_vacuum > VACUUM_AT_DELETED_SHARE * live_rows
    write_load_info(connection, INCREMENTAL, loaded_at, "", len(records), 0 if vacuum else deleted_since_vacuum)
    create_tracking_json_view(connection, accounts)
    connection.execute("COMMIT")
    if vacuum:  # the load's closing checkpoint reclaims the deleted rows' space (see warehouse_file)
        connection.execute(f"SET max_vacuum_tasks = {VACUUM_TASKS}")
    (rows_landed,) = connection.execute(f"SELECT count(*) FROM {new}").fetchall()[0]
    (changed,) = connection.execute("SELECT count(*) FROM raw.changed_trackings").fetchall()[0]
    counts = table_counts(connection)
    return LoadSummary(
        trackings=counts["trackings"], checkpoints=counts["checkpoints"], api_calls=counts["api_calls"],
        rows_landed=rows_landed, audit=audit, quarantined=counts["quarantine"], mode=INCREMENTAL,
        trackings_changed=changed, files_read=plan.files_to_read,
    )

