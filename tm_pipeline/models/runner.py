"""Build models into DuckDB's `main` schema: views, tables, and incremental tables.

Incremental models follow dbt-duckdb's `delete+insert` strategy: the model's query runs in full,
rows of the existing table whose `unique_key` appears in the result are deleted, and the result
is inserted. Without `is_incremental()` (outside the Jinja subset this folder allows) the query
is not filtered, so the outcome equals a full rebuild for every key still in the sources, while
rows whose key left the sources are kept until a full refresh — the same as dbt.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from tm_pipeline.models.graph import build_order
from tm_pipeline.models.project import Model, Project
from tm_pipeline.models.render import MODEL_SCHEMA, render_sql


@dataclass(frozen=True)
class BuildResult:
    model: str
    materialized: str
    row_count: int
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) as built


def _existing_kind(connection: duckdb.DuckDBPyConnection, name: str) -> str | None:
    rows = connection.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [MODEL_SCHEMA, name],
    ).fetchall()
    return None if not rows else ("view" if rows[0][0] == "VIEW" else "table")


def _column_names(connection: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in connection.execute(f"describe {relation}").fetchall()]


def _merge_incremental(connection: duckdb.DuckDBPyConnection, model: Model, select_sql: str) -> None:
    """delete+insert by unique_key (plain append without one), in one transaction so readers
    never see the table half merged. A changed column list means the old table cannot take the
    new rows, so it is rebuilt instead."""
    target = f"{MODEL_SCHEMA}.{model.name}"
    connection.execute("begin transaction")
    try:
        connection.execute(f"create or replace temp table incoming_rows as {select_sql}")
        if _column_names(connection, "incoming_rows") != _column_names(connection, target):
            connection.execute(f"create or replace table {target} as select * from incoming_rows")
        else:
            if model.unique_key:
                matches = " and ".join(f"existing.{key} = incoming.{key}" for key in model.unique_key)
                connection.execute(
                    f"delete from {target} as existing "
                    f"where exists (select 1 from incoming_rows as incoming where {matches})"
                )
            connection.execute(f"insert into {target} by name select * from incoming_rows")
        connection.execute("drop table incoming_rows")
        connection.execute("commit")
    except Exception:
        connection.execute("rollback")
        raise


def build_model(
    connection: duckdb.DuckDBPyConnection, model: Model, full_refresh: bool = False
) -> BuildResult:
    """Create or update one model in `main`; the models it refs must already exist."""
    select_sql = render_sql(model.sql, str(model.path), model.variables)
    target = f"{MODEL_SCHEMA}.{model.name}"
    connection.execute(f"create schema if not exists {MODEL_SCHEMA}")
    existing = _existing_kind(connection, model.name)
    wanted = "view" if model.materialized == "view" else "table"
    if existing is not None and existing != wanted:
        connection.execute(f"drop {existing} {target}")
        existing = None

    if model.materialized == "incremental" and existing == "table" and not full_refresh:
        _merge_incremental(connection, model, select_sql)
    else:
        connection.execute(f"create or replace {wanted} {target} as {select_sql}")

    row_count = connection.execute(f"select count(*) from {target}").fetchall()[0][0]
    columns = tuple((row[0], row[1]) for row in connection.execute(f"describe {target}").fetchall())
    return BuildResult(model.name, model.materialized, int(row_count), columns)


def build_all(
    connection: duckdb.DuckDBPyConnection, project: Project, full_refresh: bool = False
) -> list[BuildResult]:
    """Every model in dependency order."""
    return [
        build_model(connection, project.models[name], full_refresh)
        for name in build_order(project.models, project.sources)
    ]
