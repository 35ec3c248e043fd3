"""Build models into DuckDB's `main` schema: views, tables, and incremental tables.

An incremental model follows dbt-duckdb's `delete+insert` strategy: its SQL is rendered with its
`{% if is_incremental() %}` blocks kept, so it selects only the rows of the trackings the load
changed (`raw.changed_trackings`); the existing rows with those `unique_key` values are deleted and
the new rows inserted, in one transaction. Everything else is rebuilt whole, and so is an
incremental model when an incremental merge could leave it wrong:

- a full refresh is asked for (run config `full_refresh`, as `dbt run --full-refresh`);
- the load was not incremental (`raw.load_info.mode` is 'full', or the load wrote no load_info):
  a full load may have dropped trackings (a repair), and delete+insert never removes a key that
  is not in the new rows, so only a rebuild removes them;
- the model has not merged the previous load (a run that failed before reaching it): the
  trackings that load changed are no longer in `raw.changed_trackings`, so merging only this
  load's would lose them;
- the model's columns changed (a new model version), or it does not exist yet.

A table tagged `full_history` (an aggregate over every shipment ever loaded, which no merge can
update: a quantile needs all its group's values) is rebuilt on every run by default. Given a
cadence (`full_history_every`, TM_FULL_HISTORY_EVERY_HOURS), a run keeps it instead while its last
build with the same SQL is younger than that, the load is incremental and the table has followed
every load since that build (kept on each), as an incremental model must to merge: a full load may
have dropped trackings, so it is rebuilt after one. `models_state.full_history_runs` records when
each last read the whole history and the latest load it was built or kept on.

Which load each incremental model last caught up with is kept in `models_state.merged_loads`
(and which load each data test passed on in `models_state.passed_tests`, see data_tests.py).
A merge keyed by (account, tracking_id) whose rows all belong to changed trackings is recorded in
`models_state.confined_merges`: every other row of the model is as the previous load left it, which
is what lets the checks test the changed trackings' rows only (data_tests.py). The runner checks
that on the merged rows rather than trusting the model's SQL to filter that way, and keeps those
rows (`merged_rows(model)`), so the checks read them instead of searching the model for them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from tm_pipeline.contracts.warehouse_file import utc_now
from tm_pipeline.models.graph import build_order
from tm_pipeline.models.project import Model, Project
from tm_pipeline.models.render import MODEL_SCHEMA, render_sql

LOAD_INFO = "raw.load_info"
STATE_SCHEMA = "models_state"
MERGED_LOADS = f"{STATE_SCHEMA}.merged_loads"
PASSED_TESTS = f"{STATE_SCHEMA}.passed_tests"
CONFINED_MERGES = f"{STATE_SCHEMA}.confined_merges"
FULL_HISTORY_RUNS = f"{STATE_SCHEMA}.full_history_runs"
FULL_HISTORY_TAG = "full_history"
TRACKING_KEY = ("account", "tracking_id")
CHANGED_TRACKINGS = "raw.changed_trackings"
INCOMING = "incremental_incoming_rows"


def merged_rows(model: str) -> str:
    """The rows the model's last merge inserted, kept while that merge is recorded as confined."""
    return f"{STATE_SCHEMA}.merged_rows_of_{model}"


@dataclass(frozen=True)
class BuildResult:
    model: str
    materialized: str
    row_count: int
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) as built
    merged: bool = False  # True when an incremental model merged only the changed trackings
    rows_merged: int | None = None  # rows the incremental query selected (None for a whole build)
    full_history_built_at: datetime | None = None  # a full_history table: when it last read all history (UTC)
    full_history_kept: bool = False  # ... and this run kept it instead of rebuilding it


@dataclass(frozen=True)
class LoadInfo:
    """What the load step says about the load the models are about to follow."""

    mode: str | None  # 'full' | 'incremental'; None when the load wrote no raw.load_info
    loaded_at: datetime | None
    previous_loaded_at: datetime | None = None  # only if the load records it (optional column)


def _existing_kind(connection: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    rows = connection.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return None if not rows else ("view" if rows[0][0] == "VIEW" else "table")


def create_state_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """The incremental bookkeeping: which load each model merged, which load each test passed on."""
    connection.execute(f"create schema if not exists {STATE_SCHEMA}")
    connection.execute(f"create table if not exists {MERGED_LOADS} (model varchar, loaded_at timestamp)")
    connection.execute(f"create table if not exists {PASSED_TESTS} (test varchar, loaded_at timestamp)")
    connection.execute(f"create table if not exists {CONFINED_MERGES} (model varchar, loaded_at timestamp)")
    connection.execute(
        f"create table if not exists {FULL_HISTORY_RUNS} "
        "(name varchar, sql_hash varchar, ran_at timestamp, loaded_at timestamp)"
    )


def sql_hash(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FullHistoryRun:
    ran_at: datetime  # when it last read the whole history (UTC)
    loaded_at: datetime | None  # the latest load it was built or kept on


def last_full_history_run(
    connection: duckdb.DuckDBPyConnection, name: str, sql: str, every: timedelta | None
) -> FullHistoryRun | None:
    """When `name` (a model or a test) last read the whole history with this SQL, if that is less
    than `every` ago; None when it is due (or no cadence is set: every run reads it)."""
    if every is None:
        return None
    create_state_tables(connection)
    rows = connection.execute(
        f"select ran_at, loaded_at from {FULL_HISTORY_RUNS} where name = ? and sql_hash = ?", [name, sql_hash(sql)]
    ).fetchall()
    if not rows or utc_now() - rows[0][0] >= every:
        return None
    return FullHistoryRun(*rows[0])


def record_full_history_run(
    connection: duckdb.DuckDBPyConnection, name: str, sql: str, loaded_at: datetime | None
) -> datetime:
    """Remember that `name` read the whole history now, on that load; when (UTC)."""
    create_state_tables(connection)
    ran_at = utc_now()
    connection.execute(f"delete from {FULL_HISTORY_RUNS} where name = ?", [name])
    connection.execute(
        f"insert into {FULL_HISTORY_RUNS} values (?, ?, ?, ?)", [name, sql_hash(sql), ran_at, loaded_at]
    )
    return ran_at


def read_load_info(connection: duckdb.DuckDBPyConnection) -> LoadInfo:
    if _existing_kind(connection, "raw", "load_info") is None:
        return LoadInfo(None, None)
    columns = {row[0] for row in connection.execute(f"describe {LOAD_INFO}").fetchall()}
    previous = "previous_loaded_at" if "previous_loaded_at" in columns else "null"
    rows = connection.execute(f"select mode, loaded_at, {previous} from {LOAD_INFO}").fetchall()
    if len(rows) != 1:
        # Not the one row the contract promises: trust nothing incremental about it.
        return LoadInfo(None, None)
    mode, loaded_at, previous_loaded_at = rows[0]
    return LoadInfo(mode, loaded_at, previous_loaded_at)


def _last_merged_load(connection: duckdb.DuckDBPyConnection, model: str) -> datetime | None:
    rows = connection.execute(f"select max(loaded_at) from {MERGED_LOADS} where model = ?", [model]).fetchall()
    return rows[0][0] if rows else None


def previous_load(connection: duckdb.DuckDBPyConnection, load: LoadInfo) -> datetime | None:
    """The load before this one: as the load step records it, else the newest load any model merged.

    The second is a lower bound: a load no model ever followed (the whole models step failed) is
    invisible to it; docs/models.md says so."""
    if load.previous_loaded_at is not None:
        return load.previous_loaded_at
    rows = connection.execute(
        f"select max(loaded_at) from {MERGED_LOADS} where loaded_at < ?", [load.loaded_at]
    ).fetchall()
    return rows[0][0] if rows else None


def _record_merged_load(connection: duckdb.DuckDBPyConnection, model: str, load: LoadInfo) -> None:
    if load.loaded_at is None:
        return
    connection.execute(f"insert into {MERGED_LOADS} values (?, ?)", [model, load.loaded_at])


def _may_merge(connection: duckdb.DuckDBPyConnection, model: Model, load: LoadInfo) -> bool:
    if load.mode != "incremental" or load.loaded_at is None:
        return False
    last = _last_merged_load(connection, model.name)
    return last is not None and (last == load.loaded_at or last == previous_load(connection, load))


def _columns(connection: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in connection.execute(f"describe {relation}").fetchall()]


def _confined_to_changed_trackings(connection: duckdb.DuckDBPyConnection, model: Model) -> bool:
    """Every incoming row is a changed tracking's (a NULL key is in no changed set, so it is not)."""
    if model.unique_key != TRACKING_KEY:
        return False
    outside = connection.execute(
        f"select count(*) from {INCOMING} as incoming anti join {CHANGED_TRACKINGS} as changed "
        "on changed.account = incoming.account and changed.tracking_id = incoming.tracking_id"
    ).fetchall()[0][0]
    return int(outside) == 0


def _merge(connection: duckdb.DuckDBPyConnection, model: Model, target: str, load: LoadInfo) -> int | None:
    """delete+insert of the changed trackings' rows in one transaction, so readers never see the
    table half merged; None (nothing changed) when the new rows no longer fit the table's columns."""
    select_sql = render_sql(model.sql, str(model.path), model.variables, incremental=True)
    connection.execute("begin transaction")
    try:
        connection.execute(f"create or replace temp table {INCOMING} as {select_sql}")
        if _columns(connection, INCOMING) != _columns(connection, target):
            connection.execute("rollback")
            return None
        matches = " and ".join(f"existing.{key} = incoming.{key}" for key in model.unique_key)
        connection.execute(f"delete from {target} as existing using {INCOMING} as incoming where {matches}")
        connection.execute(f"insert into {target} by name select * from {INCOMING}")
        rows_merged = connection.execute(f"select count(*) from {INCOMING}").fetchall()[0][0]
        if _confined_to_changed_trackings(connection, model):
            connection.execute(f"insert into {CONFINED_MERGES} values (?, ?)", [model.name, load.loaded_at])
            connection.execute(f"create or replace table {merged_rows(model.name)} as select * from {INCOMING}")
        else:
            connection.execute(f"drop table if exists {merged_rows(model.name)}")
        connection.execute(f"drop table {INCOMING}")
        connection.execute("commit")
    except Exception:
        connection.execute("rollback")
        raise
    return int(rows_merged)


def _keep_full_history(
    connection: duckdb.DuckDBPyConnection, model: Model, existing: str | None, every: timedelta | None,
    load: LoadInfo,
) -> datetime | None:
    """Keep the full_history table on this load if the module docstring allows it: when it was built."""
    if FULL_HISTORY_TAG not in model.tags or model.materialized != "table" or existing != "table":
        return None
    if load.mode != "incremental" or load.loaded_at is None:
        return None
    sql = render_sql(model.sql, str(model.path), model.variables)
    last = last_full_history_run(connection, model.name, sql, every)
    if last is None or last.loaded_at not in (load.loaded_at, previous_load(connection, load)):
        return None
    connection.execute(f"update {FULL_HISTORY_RUNS} set loaded_at = ? where name = ?", [load.loaded_at, model.name])
    return last.ran_at


def build_model(
    connection: duckdb.DuckDBPyConnection, model: Model, full_refresh: bool = False,
    full_history_every: timedelta | None = None,
) -> BuildResult:
    """Create or update one model in `main`; the models it refs must already exist.

    full_refresh rebuilds an incremental model whole, as `dbt run --full-refresh` does (and a kept
    full_history table). full_history_every: the cadence of the full_history tables (None: every run)."""
    target = f"{MODEL_SCHEMA}.{model.name}"
    connection.execute(f"create schema if not exists {MODEL_SCHEMA}")
    existing = _existing_kind(connection, MODEL_SCHEMA, model.name)
    wanted = "view" if model.materialized == "view" else "table"
    if existing is not None and existing != wanted:
        connection.execute(f"drop {existing} {target}")
        existing = None
    # what the load says, read once: whether to keep a full_history table, merge, and what to record
    load = read_load_info(connection)
    built_at = None if full_refresh else _keep_full_history(connection, model, existing, full_history_every, load)
    if built_at is not None:
        row_count = connection.execute(f"select count(*) from {target}").fetchall()[0][0]
        return BuildResult(
            model.name, model.materialized, int(row_count), tuple(_columns(connection, target)),
            full_history_built_at=built_at, full_history_kept=True,
        )

    rows_merged = None
    if model.materialized == "incremental":
        create_state_tables(connection)
        if existing is not None and not full_refresh and _may_merge(connection, model, load):
            rows_merged = _merge(connection, model, target, load)
    if rows_merged is None:
        select_sql = render_sql(model.sql, str(model.path), model.variables)
        connection.execute(f"create or replace {wanted} {target} as {select_sql}")
        if FULL_HISTORY_TAG in model.tags:
            built_at = record_full_history_run(connection, model.name, select_sql, load.loaded_at)
        if model.materialized == "incremental":
            # rebuilt whole: any row may have changed, whatever an earlier merge of this load confined
            connection.execute(f"delete from {CONFINED_MERGES} where model = ?", [model.name])
            connection.execute(f"drop table if exists {merged_rows(model.name)}")
    if model.materialized == "incremental":
        _record_merged_load(connection, model.name, load)

    row_count = connection.execute(f"select count(*) from {target}").fetchall()[0][0]
    return BuildResult(
        model.name, model.materialized, int(row_count), tuple(_columns(connection, target)),
        merged=rows_merged is not None, rows_merged=rows_merged, full_history_built_at=built_at,
    )


def build_all(
    connection: duckdb.DuckDBPyConnection, project: Project, full_refresh: bool = False,
    full_history_every: timedelta | None = None,
) -> list[BuildResult]:
    """Every model in dependency order."""
    return [
        build_model(connection, project.models[name], full_refresh, full_history_every)
        for name in build_order(project.models, project.sources)
    ]
