"""Build models into DuckDB's `main` schema: views and tables, each replaced whole.

There is no incremental mode: without `is_incremental()` (outside the Jinja subset this folder
allows) an incremental model reruns its whole query, so it cost more than a table (measured,
README) and kept rows whose tracking had left the lake until a full refresh.
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


def build_model(connection: duckdb.DuckDBPyConnection, model: Model) -> BuildResult:
    """Create or update one model in `main`; the models it refs must already exist."""
    select_sql = render_sql(model.sql, str(model.path), model.variables)
    target = f"{MODEL_SCHEMA}.{model.name}"
    connection.execute(f"create schema if not exists {MODEL_SCHEMA}")
    existing = _existing_kind(connection, model.name)
    wanted = "view" if model.materialized == "view" else "table"
    if existing is not None and existing != wanted:
        connection.execute(f"drop {existing} {target}")
        existing = None

    connection.execute(f"create or replace {wanted} {target} as {select_sql}")

    row_count = connection.execute(f"select count(*) from {target}").fetchall()[0][0]
    columns = tuple((row[0], row[1]) for row in connection.execute(f"describe {target}").fetchall())
    return BuildResult(model.name, model.materialized, int(row_count), columns)


def build_all(connection: duckdb.DuckDBPyConnection, project: Project) -> list[BuildResult]:
    """Every model in dependency order."""
    return [
        build_model(connection, project.models[name])
        for name in build_order(project.models, project.sources)
    ]
