"""Data tests (schema.yml generic tests and tests/*.sql) as Dagster asset checks.

One multi-asset check per model keeps a model's tests in one step with one short connection.
Tests of severity `error` are blocking: when one fails, Dagster does not materialize the
assets downstream of that model in the same run, so marts are never rebuilt on broken staging.
"""

from collections.abc import Iterator

import dagster as dg

from tm_pipeline.contracts.pools import WAREHOUSE_POOL
from tm_pipeline.models.data_tests import DataTest, compile_tests, run_tests
from tm_pipeline.models.project import Project
from tm_pipeline.models.results import CheckRecord, record_check_results
from tm_pipeline.resources import WarehouseResource

SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


def _model_checks(model: str, tests: list[DataTest]) -> dg.AssetChecksDefinition:
    asset_key = dg.AssetKey([model])
    tests_by_key = {dg.AssetCheckKey(asset_key, test.name): test for test in tests}
    specs = [
        dg.AssetCheckSpec(
            name=test.name,
            asset=asset_key,
            description=f"{test.description} ({test.severity})",
            blocking=test.severity == "error",
        )
        for test in tests
    ]

    @dg.multi_asset_check(specs=specs, name=f"data_tests_{model}", can_subset=True, pool=WAREHOUSE_POOL)
    def _run_tests(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = [tests_by_key[key] for key in sorted(context.selected_asset_check_keys, key=str)]
        with warehouse.connect() as connection:
            results = run_tests(connection, selected, incremental=True, full_history_every=warehouse.full_history_every)
            outcomes = list(zip(selected, results, strict=True))
            record_check_results(
                connection,
                context.run.run_id,
                [
                    CheckRecord(test.name, model, outcome.passed, test.severity, float(outcome.failures))
                    for test, outcome in outcomes
                ],
            )
        for test, outcome in outcomes:
            yield dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=test.name,
                passed=outcome.passed,
                severity=SEVERITY[test.severity],
                metadata={
                    "severity": test.severity,
                    "failing_rows": outcome.failures,
                    # an incremental load's per-row test over the changed trackings only (data_tests.py)
                    "changed_rows_only": outcome.changed_rows_only,
                    "sample_failing_rows": dg.MetadataValue.json(outcome.samples),
                    "sql": dg.MetadataValue.md(f"```sql\n{test.sql}\n```"),
                },
            )

    return _run_tests


def build_data_test_checks(project: Project) -> list[dg.AssetChecksDefinition]:
    """One multi-asset check per tested model, with one check spec per test."""
    tests_by_model: dict[str, list[DataTest]] = {}
    for test in compile_tests(project):
        tests_by_model.setdefault(test.model, []).append(test)
    return [_model_checks(model, tests) for model, tests in sorted(tests_by_model.items())]
