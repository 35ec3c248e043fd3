"""Run the whole graph in-process (CLI `sync` and `demo`), with a Dagster instance under the data dir."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from tm_pipeline.definitions import pipeline_assets, pipeline_checks
from tm_pipeline.schedules import SYNC_SELECTION

# Every pool holds one step at a time: a key's `trackingmore_api_<fingerprint>` because two steps
# would share its 1 request/second, `duckdb_warehouse` because DuckDB takes one writer process.
DAGSTER_YAML = """\
concurrency:
  pools:
    default_limit: 1
"""


def dagster_home(data_dir: Path) -> Path:
    """`<data_dir>/dagster_home`, with the pool limits in its dagster.yaml (written once, then yours to edit).

    Point `DAGSTER_HOME` at it for `dagster dev`, so CLI runs and UI runs share history and pools.
    """
    home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def instance_for(data_dir: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home(data_dir)))


PROCESS_TAG = "tm_pipeline/process"  # "<host>:<pid>" of the CLI process running the run in-process


def release_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs whose CLI process was killed, freeing the pool slots they still hold.

    A run killed with SIGKILL cannot release its slot in the API key's pool, and with a
    limit of 1 every later run would wait for it forever. Only runs started by a process of this
    host that no longer exists are touched; the extraction they left resumes on the next run.
    """
    released = []
    host = socket.gethostname()
    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])):
        run_host, _, pid = run.tags.get(PROCESS_TAG, "").rpartition(":")
        if run_host != host or not pid.isdigit() or _process_alive(int(pid)):
            continue
        instance.report_run_failed(run, f"its process {pid} ended without finishing the run (killed?)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def materialize_all(
    resources: Mapping[str, Any],
    data_dir: Path,
    log_level: str = "INFO",
    run_config_ops: Mapping[str, Any] | None = None,
    selection: dg.AssetSelection = SYNC_SELECTION,
) -> dg.ExecuteInProcessResult:
    """Materialize every asset and run every check; failures are in the result, not raised.

    `run_config_ops` maps an asset's op name to its config, e.g. {"trackingmore_extract": {"mode": "full"}}.
    `selection` narrows the run, e.g. to a load-only run without the API.
    """
    instance = instance_for(data_dir)
    for run_id in release_abandoned_runs(instance):
        logging.getLogger(__name__).warning("released run %s, whose process was killed", run_id)
    return dg.materialize(
        [*pipeline_assets(), *pipeline_checks()],
        selection=selection,
        resources=dict(resources),
        instance=instance,
        tags={PROCESS_TAG: f"{socket.gethostname()}:{os.getpid()}"},
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
