"""Data tests as SQL that returns the failing rows (dbt's contract), and running them.

Generic tests from schema.yml compile to the same queries dbt generates in spirit: `unique` and
`accepted_values` return one row per offending value with its number of occurrences, so
`failures` counts offending values for those two and offending rows for the others, as in dbt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from tm_pipeline.models.project import GenericTest, Project, ProjectError, SingularTest
from tm_pipeline.models.render import MODEL_SCHEMA, render_sql

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class DataTest:
    name: str
    model: str
    severity: str
    sql: str
    description: str


@dataclass(frozen=True)
class TestOutcome:
    failures: int
    samples: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        return self.failures == 0


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def compile_generic_test(test: GenericTest) -> str:
    relation = f"{MODEL_SCHEMA}.{test.model}"
    column = test.column
    if test.kind == "unique":
        return (
            f"select {column} as value, count(*) as occurrences from {relation} "
            f"where {column} is not null group by {column} having count(*) > 1"
        )
    if test.kind == "not_null":
        return f"select * from {relation} where {column} is null"
    if test.kind == "accepted_values":
        values = ", ".join(_literal(value) for value in test.arguments["values"])
        return (
            f"select {column} as value, count(*) as occurrences from {relation} "
            f"where {column} is not null and {column} not in ({values}) group by {column}"
        )
    if test.kind == "relationships":
        parent = render_sql("{{ " + test.arguments["to"] + " }}", f"{test.name}: to")
        field = test.arguments["field"]
        # A left join, not NOT EXISTS: DuckDB plans it as a hash join, where NOT EXISTS was far slower at scale.
        return (
            f"select child.{column} as value from {relation} as child "
            f"left join {parent} as parent on parent.{field} = child.{column} "
            f"where child.{column} is not null and parent.{field} is null"
        )
    raise ProjectError(f"{test.name}: no SQL for test kind {test.kind!r}")


def _describe_generic(test: GenericTest) -> str:
    if test.kind == "accepted_values":
        return f"{test.model}.{test.column} in {list(test.arguments['values'])}"
    if test.kind == "relationships":
        return f"{test.model}.{test.column} found in {test.arguments['to']}.{test.arguments['field']}"
    if test.kind == "unique" and not test.column.isidentifier():
        return f"{test.model} has one row per {test.column}"
    return f"{test.model}.{test.column} is {test.kind.replace('_', ' ')}"


def _from_singular(test: SingularTest) -> DataTest:
    description = test.description or f"{test.path.name} returns no rows"
    select_sql = render_sql(test.sql, str(test.path), test.variables)
    return DataTest(test.name, test.model, test.severity, select_sql, description)


def compile_tests(project: Project) -> list[DataTest]:
    """Every generic and singular test of the project, ready to run."""
    generic = [
        DataTest(test.name, test.model, test.severity, compile_generic_test(test), _describe_generic(test))
        for test in project.generic_tests
    ]
    return generic + [_from_singular(test) for test in project.singular_tests]


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def run_test(connection: duckdb.DuckDBPyConnection, test: DataTest) -> TestOutcome:
    """Number of failing rows and the first few of them (JSON-safe) for a person to look at."""
    failures = connection.execute(f"select count(*) from ({test.sql})").fetchall()[0][0]
    samples: list[dict[str, Any]] = []
    if failures:
        cursor = connection.execute(f"select * from ({test.sql}) limit {SAMPLE_ROWS}")
        names = [column[0] for column in cursor.description]
        samples = [{n: _json_safe(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    return TestOutcome(int(failures), samples)
