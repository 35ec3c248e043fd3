"""Data tests as SQL that returns the failing rows (dbt's contract), and running them.

Generic tests from schema.yml compile to the same queries dbt generates in spirit: `unique` and
`accepted_values` return one row per offending value with its number of occurrences, so
`failures` counts offending values for those two and offending rows for the others, as in dbt.

On an incremental load a test may run over the changed trackings' rows only (the checks ask for
it, `changed_rows_only`), where that gives the same verdict as the whole relation:
- the test is per tracking: per row (`not_null`, `accepted_values` — not on account or tracking_id:
  a row without one is in no changed set —, or a singular test marked
  `config(meta={'per_row': True})`), or `unique` over exactly `row(account, tracking_id)` (two rows
  with one key belong to one tracking: if either is new, both are in its changed rows), or
  `relationships` from tracking_id to tracking_id of a staging view over raw (an incremental load
  only adds or replaces trackings, never removes one, so an unchanged row's parent is still there);
  not `relationships` to other parents or `unique` over other columns, which compare trackings;
- only the changed trackings' rows of its model can have changed since the previous load:
  - a view over raw alone with account and tracking_id columns (the staging views): a tracking's
    rows there change only when its raw rows do, that is, only if it is in raw.changed_trackings
    (whose raw rows are those stamped with the load's loaded_at);
  - an incremental model keyed by (account, tracking_id) that merged this load confined to the
    changed trackings (the runner checks the merged rows and records it, runner.py); a rebuild
    whole, or a merge of other rows, runs its tests whole;
- the test passed on the previous load (or already on this one): then every unchanged row passed.
  After a failure it runs whole until it passes, so a fault is reported until it is gone.

A test tagged `full_history` (the grain of the fct_shipment_journeys view: a view over the journeys
and the clock, so not provably per tracking) runs whole on every run by default. Given a cadence
(the models' full_history cadence, runner.py), between its whole runs it checks the changed
trackings' rows only, while it passed on the previous load and its last whole pass is younger than
the cadence; what it would catch in the other rows comes from its inputs, whose own tests run every
time (their docs say which).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from tm_pipeline.models.project import REF_PATTERN, GenericTest, Model, Project, ProjectError, SingularTest
from tm_pipeline.models.render import MODEL_SCHEMA, render_sql
from tm_pipeline.models.runner import (
    CONFINED_MERGES,
    FULL_HISTORY_TAG,
    LOAD_INFO,
    PASSED_TESTS,
    TRACKING_KEY,
    LoadInfo,
    create_state_tables,
    last_full_history_run,
    merged_rows,
    previous_load,
    read_load_info,
    record_full_history_run,
)

SAMPLE_ROWS = 5
PER_ROW_KINDS = ("not_null", "accepted_values")
CHANGED_TRACKINGS = "raw.changed_trackings"


@dataclass(frozen=True)
class DataTest:
    name: str
    model: str
    severity: str
    sql: str
    description: str
    changed_rows_sql: str | None = None  # the same test over the changed trackings' rows, where sound
    needs_confined_merge: bool = False  # sound only when the model merged this load's changed trackings only
    full_history: bool = False  # tagged full_history: restricted only between whole runs on a cadence


@dataclass(frozen=True)
class TestOutcome:
    failures: int
    samples: list[dict[str, Any]]
    changed_rows_only: bool = False  # ran over the changed trackings' rows, not the whole relation

    @property
    def passed(self) -> bool:
        return self.failures == 0


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _changed_rows(model: str) -> str:
    """The temp table run_tests fills with the model's rows of the changed trackings.

    A table, not a subquery: DuckDB pushes a test's filter (e.g. stg_checkpoints' try_strptime)
    below the semi join into the scan, so the subquery evaluated it on every row, as slow as the
    whole test; filled first, the restricted tests read a few thousand rows, and share them."""
    return f"changed_rows_of_{model}"


def _fill_changed_rows(connection: duckdb.DuckDBPyConnection, model: str, merged: bool) -> None:
    """`merged`: an incremental model whose confined merge kept the rows it inserted; those are all its
    rows that changed (the rest are as the previous load left them), so no search of the model.
    A staging view passing raw's `loaded_at` through: the changed trackings' rows are the ones this
    load wrote (the raw contract), found by row-group min/max instead of matching every key."""
    if merged:
        connection.execute(f"create or replace temp table {_changed_rows(model)} as select * from {merged_rows(model)}")
        return
    columns = {row[0] for row in connection.execute(f"describe {MODEL_SCHEMA}.{model}").fetchall()}
    if "loaded_at" in columns:
        connection.execute(
            f"create or replace temp table {_changed_rows(model)} as select * from {MODEL_SCHEMA}.{model} "
            f"where loaded_at = (select loaded_at from {LOAD_INFO})"
        )
        return
    connection.execute(
        f"create or replace temp table {_changed_rows(model)} as select rows.* from {MODEL_SCHEMA}.{model} as rows "
        f"semi join {CHANGED_TRACKINGS} as changed "
        "on changed.account = rows.account and changed.tracking_id = rows.tracking_id"
    )


def rows_follow_their_tracking(model: Model) -> bool:
    """A view over raw alone, keyed by tracking: its rows change only with their tracking's raw rows."""
    return (
        model.materialized == "view"
        and not model.refs
        and all(source == "raw" for source, _ in model.sources)
        and {"account", "tracking_id"} <= {column.name for column in model.columns}
    )


def merges_by_tracking(model: Model) -> bool:
    """An incremental model keyed by tracking: its rows change only in a merge (or a rebuild)."""
    return model.materialized == "incremental" and model.unique_key == TRACKING_KEY


def _per_tracking(test: GenericTest, project: Project) -> bool:
    if test.kind == "unique":
        return test.column.replace(" ", "") == "row(account,tracking_id)"
    if test.kind == "relationships":
        parent = REF_PATTERN.fullmatch("{{ " + str(test.arguments["to"]).strip() + " }}")
        return (
            parent is not None and parent["name"] in project.models
            and rows_follow_their_tracking(project.models[parent["name"]])
            and test.column == test.arguments["field"] == "tracking_id"
        )
    # not on the key itself: a row without one is in no changed set, only the whole test sees it
    return test.kind in PER_ROW_KINDS and test.column not in ("account", "tracking_id")


def compile_generic_test(test: GenericTest, relation: str | None = None) -> str:
    """The failing-rows query over `relation` (default: the whole model)."""
    relation = relation or f"{MODEL_SCHEMA}.{test.model}"
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


def _from_generic(test: GenericTest, model: Model, project: Project) -> DataTest:
    full_history = FULL_HISTORY_TAG in test.tags
    changed_rows_sql = None
    if _per_tracking(test, project) and (
        full_history or rows_follow_their_tracking(model) or merges_by_tracking(model)
    ):
        changed_rows_sql = compile_generic_test(test, _changed_rows(test.model))
    return DataTest(
        test.name, test.model, test.severity, compile_generic_test(test), _describe_generic(test), changed_rows_sql,
        needs_confined_merge=merges_by_tracking(model) and not full_history, full_history=full_history,
    )


def _from_singular(test: SingularTest, model: Model) -> DataTest:
    description = test.description or f"{test.path.name} returns no rows"
    select_sql = render_sql(test.sql, str(test.path), test.variables)
    changed_rows_sql = None
    if test.per_row and (rows_follow_their_tracking(model) or merges_by_tracking(model)):
        changed_rows_sql = render_sql(
            test.sql, str(test.path), test.variables, relations={test.model: _changed_rows(test.model)}
        )
    return DataTest(
        test.name, test.model, test.severity, select_sql, description, changed_rows_sql,
        needs_confined_merge=merges_by_tracking(model),
    )


def compile_tests(project: Project) -> list[DataTest]:
    """Every generic and singular test of the project, ready to run."""
    generic = [_from_generic(test, project.models[test.model], project) for test in project.generic_tests]
    return generic + [_from_singular(test, project.models[test.model]) for test in project.singular_tests]


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _tests_passed_since_previous_load(
    connection: duckdb.DuckDBPyConnection, tests: list[DataTest], load: LoadInfo, full_history_every: timedelta | None
) -> set[str]:
    """The tests that may run over the changed rows now: restrictable, passed on the previous load
    (or already on this one), and on an incremental model, merged confined to the changed
    trackings on this load (a full_history test: its last whole pass within the cadence); none
    unless the load was incremental."""
    if load.mode != "incremental" or load.loaded_at is None:
        return set()
    loads = {load.loaded_at, previous_load(connection, load)} - {None}
    rows = connection.execute(f"select test, max(loaded_at) from {PASSED_TESTS} group by test").fetchall()
    last_passed = dict(rows)
    confined = {
        row[0] for row in connection.execute(
            f"select distinct model from {CONFINED_MERGES} where loaded_at = ?", [load.loaded_at]
        ).fetchall()
    }
    return {
        test.name for test in tests
        if test.changed_rows_sql is not None
        and last_passed.get(test.name) in loads
        and (not test.needs_confined_merge or test.model in confined)
        and (not test.full_history or last_full_history_run(connection, test.name, test.sql, full_history_every))
    }


def _outcome(connection: duckdb.DuckDBPyConnection, sql: str, changed_rows_only: bool) -> TestOutcome:
    failures = connection.execute(f"select count(*) from ({sql})").fetchall()[0][0]
    samples: list[dict[str, Any]] = []
    if failures:
        cursor = connection.execute(f"select * from ({sql}) limit {SAMPLE_ROWS}")
        names = [column[0] for column in cursor.description]
        samples = [{n: _json_safe(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    return TestOutcome(int(failures), samples, changed_rows_only)


def run_tests(
    connection: duckdb.DuckDBPyConnection, tests: list[DataTest], incremental: bool = False,
    full_history_every: timedelta | None = None,
) -> list[TestOutcome]:
    """Each test's failing rows (count, and the first few, JSON-safe, for a person to look at).

    incremental (the checks of a run, on a write connection): over the changed trackings' rows
    only where the module docstring says that is sound, and remember the passes for the next
    load; the bookkeeping is read once and written once for all the tests.
    full_history_every: the cadence of the full_history tests (None: whole on every run)."""
    if not incremental:
        return [_outcome(connection, test.sql, False) for test in tests]
    create_state_tables(connection)
    load = read_load_info(connection)
    restricted = _tests_passed_since_previous_load(connection, tests, load, full_history_every)
    merging = {test.model for test in tests if test.needs_confined_merge}
    models = sorted({test.model for test in tests if test.name in restricted})
    for model in models:
        _fill_changed_rows(connection, model, merged=model in merging)
    outcomes = [
        _outcome(connection, test.changed_rows_sql or test.sql, True)
        if test.name in restricted
        else _outcome(connection, test.sql, False)
        for test in tests
    ]
    for model in models:
        connection.execute(f"drop table {_changed_rows(model)}")
    loaded_at = load.loaded_at
    passed = [[test.name, loaded_at] for test, outcome in zip(tests, outcomes, strict=True) if outcome.passed]
    if loaded_at is not None and passed:
        connection.executemany(f"insert into {PASSED_TESTS} values (?, ?)", passed)
    for test, outcome in zip(tests, outcomes, strict=True):
        if test.full_history and outcome.passed and not outcome.changed_rows_only:
            record_full_history_run(connection, test.name, test.sql, loaded_at)
    return outcomes


def run_test(
    connection: duckdb.DuckDBPyConnection, test: DataTest, incremental: bool = False,
    full_history_every: timedelta | None = None,
) -> TestOutcome:
    """One test; see run_tests."""
    return run_tests(connection, [test], incremental, full_history_every)[0]
