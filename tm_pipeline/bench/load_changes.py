"""The load's contract with the models, written without a lake, for model benchmarks and tests.

The load step writes `raw.changed_trackings(account, tracking_id)` (the trackings whose winning row
changed in a load; every tracking after a full load), stamps those trackings' raw rows with its
`loaded_at`, and writes a one-row `raw.load_info(mode, loaded_at, ...)` (load/bookkeeping.py). A
benchmark or test that edits `raw.*` directly, with no lake behind it, writes all three here from
the difference between the raw tables before and after the change: fingerprint, change `raw.*`,
then record the load.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

FINGERPRINTS = "raw_fingerprints_before_load"

# One hash per tracking over its raw.trackings row and all its raw.checkpoints rows (sorted, so
# the order rows were stored in does not matter), but loaded_at: which load wrote a row is not news.
_FINGERPRINT_SQL = """
    select
        trackings.account,
        trackings.tracking_id,
        hash(trackings, checkpoints.row_hashes) as fingerprint
    from (select * exclude (loaded_at) from raw.trackings) as trackings
    left join (
        select account, tracking_id, list_sort(list(hash(checkpoint))) as row_hashes
        from (select * exclude (loaded_at) from raw.checkpoints) as checkpoint
        group by account, tracking_id
    ) as checkpoints on checkpoints.account = trackings.account and checkpoints.tracking_id = trackings.tracking_id
"""


def fingerprint_raw(connection: duckdb.DuckDBPyConnection) -> None:
    """Remember every tracking's raw rows (in a temp table of this connection) before a load."""
    connection.execute(f"create or replace temp table {FINGERPRINTS} as {_FINGERPRINT_SQL}")


def record_load(connection: duckdb.DuckDBPyConnection, mode: str, loaded_at: datetime) -> int:
    """Write raw.changed_trackings and raw.load_info for the load just done; the changed count.

    'incremental': the trackings that are new or whose rows differ from the fingerprints (a load
    that merges never drops a tracking); 'full': every tracking."""
    if mode not in ("full", "incremental"):
        raise ValueError(f"load mode must be 'full' or 'incremental', got {mode!r}")
    if mode == "full":
        changed = "select account, tracking_id from raw.trackings"
    else:
        changed = f"""
            select now.account, now.tracking_id from ({_FINGERPRINT_SQL}) as now
            left join {FINGERPRINTS} as before
                on before.account = now.account and before.tracking_id = now.tracking_id
            where before.fingerprint is distinct from now.fingerprint
        """
    connection.execute("create or replace table raw.changed_trackings as " + changed)
    # The rows of the changed trackings are the ones the load wrote: they carry its loaded_at.
    for table in ("trackings", "checkpoints"):
        connection.execute(
            f"update raw.{table} set loaded_at = ? "
            "where (account, tracking_id) in (select (account, tracking_id) from raw.changed_trackings)",
            [loaded_at],
        )
    connection.execute(
        "create or replace table raw.load_info as select cast(? as varchar) as mode, cast(? as timestamp) as loaded_at",
        [mode, loaded_at],
    )
    return int(connection.execute("select count(*) from raw.changed_trackings").fetchall()[0][0])
