"""Run the whole graph in-process (CLI `sync` and `demo`), with a Dagster instance under the data dir."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from tm_pipeline.definitions import defs, pipeline_assets, pipeline_checks
from tm_pipeline.extract.assets import ACCOUNT_EXTRACTS
from tm_pipeline.schedules import PARALLEL_ACCOUNTS, SYNC_SELECTION, extraction_selection

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


log = logging.getLogger(__name__)

PROCESS_TAG = "tm_pipeline/process"  # "<host>:<pid>" of the CLI process running the run in-process
INVOCATION_TAG = "tm_pipeline/invocation"  # tells this call's run apart from earlier runs of the same process


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
        log.warning("released run %s, whose process was killed", run_id)
    invocation = uuid.uuid4().hex
    with PoolWaitReporter(instance, invocation, data_dir):
        return dg.materialize(
            [*pipeline_assets(), *pipeline_checks()],
            selection=selection,
            resources=dict(resources),
            instance=instance,
            tags={PROCESS_TAG: f"{socket.gethostname()}:{os.getpid()}", INVOCATION_TAG: invocation},
            raise_on_error=False,
            run_config={
                "loggers": {"console": {"config": {"log_level": log_level}}},
                "ops": {op: {"config": config} for op, config in (run_config_ops or {}).items()},
            },
        )


def configured_sync_job() -> dg.JobDefinition:
    """The sync job of the accounts configured in the environment, for child processes to rebuild."""
    return defs.resolve_job_def("incremental_sync")


def sync(
    resources: Mapping[str, Any], data_dir: Path, mode: str, run_config_ops: Mapping[str, Any] | None = None
) -> list[dg.ExecutionResult]:
    """`tm-pipeline sync`: one account in-process, as before; several accounts extracted in
    parallel, one process each (Dagster's multiprocess executor), then the rest in-process.
    `run_config_ops` configures the steps after the extraction (the load's full_load, the models'
    full_refresh).

    The processes rebuild the definitions from the environment (TM_ACCOUNTS_FILE, the key
    variables, TM_DATA_DIR), which is why `data_dir` is exported to them here."""
    extraction_config = {part.extract_op: {"mode": mode} for part in ACCOUNT_EXTRACTS}
    if not PARALLEL_ACCOUNTS:
        return [materialize_all(resources, data_dir, run_config_ops={**extraction_config, **(run_config_ops or {})})]
    os.environ["TM_DATA_DIR"] = str(data_dir)
    instance = instance_for(data_dir)
    for run_id in release_abandoned_runs(instance):
        log.warning("released run %s, whose process was killed", run_id)
    invocation = uuid.uuid4().hex
    with PoolWaitReporter(instance, invocation, data_dir):
        extraction = dg.execute_job(
            dg.reconstructable(configured_sync_job),
            instance=instance,
            tags={PROCESS_TAG: f"{socket.gethostname()}:{os.getpid()}", INVOCATION_TAG: invocation},
            raise_on_error=False,
            run_config={"ops": {op: {"config": config} for op, config in extraction_config.items()}},
        )
    if not extraction.success:
        return [extraction]
    rest = SYNC_SELECTION - extraction_selection(ACCOUNT_EXTRACTS)
    return [extraction, materialize_all(resources, data_dir, run_config_ops=run_config_ops, selection=rest)]


class PoolWaitReporter:
    """Says, once per pool and holder, when this run's step waits for a slot another run holds.

    The in-process executor does respect the pools: a step whose pool is full waits, and Dagster
    notes that only as a DEBUG event, so a sync waiting behind a stuck run looked hung. This
    thread polls the instance's pool table and warns, naming the run that holds the slot and
    what to do if it never lets go.
    """

    def __init__(
        self,
        instance: dg.DagsterInstance,
        invocation: str,
        data_dir: Path,
        say: Callable[[str], None] | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.instance = instance
        self.invocation = invocation
        self.data_dir = data_dir
        self.say = say or log.warning
        self.poll_s = poll_s
        self.reported: set[tuple[str, str]] = set()  # (pool, holding run id) already announced
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pool-wait-reporter", daemon=True)

    def __enter__(self) -> PoolWaitReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        run_id = None
        while not self._stop.wait(self.poll_s):
            try:
                run_id = run_id or self._own_run_id()
                if run_id is not None:
                    self.check_once(run_id)
            except Exception:  # noqa: BLE001 - a report must never fail the sync it reports on
                log.debug("pool wait check failed", exc_info=True)

    def _own_run_id(self) -> str | None:
        runs = self.instance.get_runs(dg.RunsFilter(tags={INVOCATION_TAG: self.invocation}), limit=1)
        return runs[0].run_id if runs else None

    def check_once(self, run_id: str) -> None:
        storage = self.instance.event_log_storage
        for pool in sorted(storage.get_concurrency_keys()):
            info = storage.get_concurrency_info(pool)
            if run_id not in info.pending_run_ids:
                continue
            for slot in info.claimed_slots:
                if slot.run_id != run_id and (pool, slot.run_id) not in self.reported:
                    self.reported.add((pool, slot.run_id))
                    self.say(self._message(pool, info.slot_count, slot.run_id, slot.step_key))

    def _message(self, pool: str, limit: int, holder_run_id: str, holder_step: str) -> str:
        holder = self.instance.get_run_by_id(holder_run_id)
        started_by = holder.tags.get(PROCESS_TAG) if holder else None
        who = f"started by process {started_by}" if started_by else "started from the Dagster UI or a schedule"
        status = holder.status.value if holder else "unknown"
        return (
            f"waiting for pool {pool} (limit {limit}): run {holder_run_id} holds it (step {holder_step}, "
            f"{who}, status {status}); this sync goes on when that step ends. If that run is stuck: a CLI run "
            f"whose process was killed is released by the next `tm-pipeline sync` on the same host; otherwise "
            f"terminate it in the Dagster UI (DAGSTER_HOME={dagster_home(self.data_dir)}, "
            f"`dagster dev -w workspace.yaml`, Runs), which frees its slot."
        )


def check_outcomes(result: dg.ExecutionResult) -> list[dict[str, Any]]:
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


def step_failures(result: dg.ExecutionResult) -> list[tuple[str, str, str]]:
    """(step, exception class, message) of every failed step, innermost cause first."""
    failures = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
            error = error.cause  # Dagster wraps user errors; the user error says what to do
        if error is not None:
            failures.append((event.step_key or "", error.cls_name or "", error.message.strip()))
    return failures
