"""Run the whole graph in-process (CLI `sync` and `demo`), with a Dagster instance under the data dir."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from tm_pipeline.definitions import pipeline_assets, pipeline_checks


def instance_for(data_dir: Path) -> dg.DagsterInstance:
    """A persistent instance in `<data_dir>/dagster_home`, so CLI runs show up in `dagster dev` too."""
    home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.local_temp(tempdir=str(home))


def materialize_all(
    resources: Mapping[str, Any],
    data_dir: Path,
    log_level: str = "INFO",
    run_config_ops: Mapping[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize every asset and run every check; failures are in the result, not raised.

    `run_config_ops` maps an asset's op name to its config, e.g. {"trackingmore_extract": {"mode": "full"}}.
    """
    return dg.materialize(
        [*pipeline_assets(), *pipeline_checks()],
        resources=dict(resources),
        instance=instance_for(data_dir),
        raise_on_error=False,
        run_config={
            "loggers": {"console": {"config": {"log_level": log_level}}},
            "ops": {op: {"config": config} for op, config in (run_config_ops or {}).items()},
        },
    )


def check_outcomes(result: dg.ExecuteInProcessResult) -> list[dict[str, Any]]:
    """One row per check evaluation: which check, on what, passed or not, severity and metadata."""
    outcomes = []
    for evaluation in result.get_asset_check_evaluations():
        outcomes.append(
            {
                "check": evaluation.check_name,
                "asset": evaluation.asset_key.to_user_string(),
                "passed": evaluation.passed,
                "severity": evaluation.severity.value,
                "metadata": {key: value.value for key, value in evaluation.metadata.items()},
            }
        )
    return outcomes


def step_failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, str, str]]:
    """(step, exception class, message) of every failed step, innermost cause first."""
    failures = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
            error = error.cause  # Dagster wraps user errors; the user error says what to do
        if error is not None:
            failures.append((event.step_key or "", error.cls_name or "", error.message.strip()))
    return failures
