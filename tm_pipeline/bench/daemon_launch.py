"""Launch the scheduled job the way `dagster dev`'s daemon does, to test and time that path.

`materialize()` (the CLI's path) runs the graph in the calling process; the daemon instead loads
the code from workspace.yaml in a code server, lets the schedule tick create a run, queues it,
dequeues it and hands it to the instance's run launcher, which starts a run worker process that
executes the job with the job's own executor. Issue 10's slowness lived only on that second path,
so this module drives the daemon's own scheduler and run-queue iterations once each, instead of
running the daemon forever, to keep a test deterministic and bounded.

These are Dagster internals (`dagster._scheduler`, `dagster._daemon`): nothing public ticks a
schedule on demand. They are used only here, by a test and by `tm-pipeline bench`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster._scheduler.scheduler import launch_scheduled_runs

WORKSPACE_FILE = Path(__file__).resolve().parents[2] / "workspace.yaml"
SCHEDULE_INTERVAL = timedelta(hours=3)  # incremental_sync_every_3_hours
SYNC_JOB = "incremental_sync"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchedRun:
    run_id: str
    status: str
    submitted_to_finished_s: float  # from the tick creating the run to the run's end, as a user waits
    run_wall_s: float  # the run worker's own start to end, as Dagster records it
    code_location_load_s: float  # once per daemon start, not per run


def _next_schedule_tick(after: datetime) -> datetime:
    hours_past = after.hour % 3
    floor = after.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_past)
    return floor + SCHEDULE_INTERVAL


def _tick_schedule_once(context: WorkspaceProcessContext, later_ticks: int = 0) -> None:
    """Two scheduler iterations: the first records the schedule's start, the second sees one cron tick.

    A schedule that is RUNNING by default starts counting at its first evaluation, so the second
    evaluation is placed just after the next `0 */3 * * *` boundary: exactly one run is created.
    `later_ticks` > 0: the schedule has started already (an earlier call); one iteration just after
    the boundary that many ticks later sees that one tick.
    """
    now = datetime.now(timezone.utc)
    next_tick = _next_schedule_tick(now) + timedelta(seconds=30)
    evaluations = (now, next_tick) if later_ticks == 0 else (next_tick + later_ticks * SCHEDULE_INTERVAL,)
    for evaluated_at in evaluations:
        for _ in launch_scheduled_runs(context, log, end_datetime_utc=evaluated_at, iteration_times={}):
            pass


def _dequeue_once(context: WorkspaceProcessContext) -> None:
    with QueuedRunCoordinatorDaemon(interval_seconds=1) as queue_daemon:
        for _ in queue_daemon.run_iteration(context):
            pass


def launch_scheduled_sync(instance: dg.DagsterInstance, timeout_s: float = 600.0, later_ticks: int = 0) -> LaunchedRun:
    """Tick the schedule, dequeue its run to the run launcher and wait (at most `timeout_s`) for its end.
    A second run in the same instance passes `later_ticks=1` (the next cron tick; 2 for a third).

    The code server and the run worker inherit this process's environment: set
    TRACKINGMORE_BASE_URL, TRACKINGMORE_API_KEY and TM_DATA_DIR before calling.
    """
    known_runs = {run.run_id for run in instance.get_runs()}
    loading_started = time.monotonic()
    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(WORKSPACE_FILE)])) as context:
        errors = [
            entry.load_error for entry in context.create_request_context().get_code_location_entries().values()
            if entry.load_error
        ]
        if errors:
            raise RuntimeError(f"{WORKSPACE_FILE} did not load: {errors[0].message}")
        submitted_at = time.monotonic()
        code_location_load_s = submitted_at - loading_started
        _tick_schedule_once(context, later_ticks)
        created = [run for run in instance.get_runs() if run.run_id not in known_runs]
        # The simulated window may also hold another schedule's tick (the daily compaction at 01:30
        # UTC): not what is launched here, so its run is removed before the queue could start it.
        for other in [run for run in created if run.job_name != SYNC_JOB]:
            instance.delete_run(other.run_id)
        created = [run for run in created if run.job_name == SYNC_JOB]
        if len(created) != 1:
            raise RuntimeError(f"the schedule tick created {len(created)} sync runs instead of 1")
        (run,) = created
        _dequeue_once(context)
        deadline = submitted_at + timeout_s
        while True:
            record = instance.get_run_record_by_id(run.run_id)
            if record is not None and record.dagster_run.is_finished:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run.run_id} did not finish within {timeout_s:.0f} s "
                                   f"(status {record.dagster_run.status.value if record else 'unknown'})")
            time.sleep(0.2)
        finished_s = time.monotonic() - submitted_at
    run_wall_s = (record.end_time or 0.0) - (record.start_time or 0.0)
    return LaunchedRun(run.run_id, record.dagster_run.status.value, finished_s, run_wall_s, code_location_load_s)


def _wait_finished(instance: dg.DagsterInstance, run_id: str, deadline: float) -> dg.DagsterRun:
    while True:
        record = instance.get_run_record_by_id(run_id)
        if record is not None and record.dagster_run.is_finished:
            return record.dagster_run
        if time.monotonic() > deadline:
            status = record.dagster_run.status.value if record else "unknown"
            raise TimeoutError(f"run {run_id} did not finish in time (status {status})")
        time.sleep(0.2)


class SensorDriver:
    """The daemon's sensor loop and run queue, one iteration at a time: for the webhook sensor's test
    and benchmark. Keeps one code server (WorkspaceProcessContext) for all ticks, as the daemon does."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        from dagster._daemon.sensor import execute_sensor_iteration

        self._execute = execute_sensor_iteration
        self.instance = instance
        self._context = WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(WORKSPACE_FILE)]))

    def __enter__(self) -> SensorDriver:
        self._context.__enter__()
        errors = [
            entry.load_error for entry in self._context.create_request_context().get_code_location_entries().values()
            if entry.load_error
        ]
        if errors:
            raise RuntimeError(f"{WORKSPACE_FILE} did not load: {errors[0].message}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(None, None, None)

    def tick(self) -> list[str]:
        """One sensor-daemon iteration (every running sensor not under its minimum interval), then one
        run-queue iteration; returns the ids of the runs the tick created."""
        known = {run.run_id for run in self.instance.get_runs()}
        for _ in self._execute(self._context, log, threadpool_executor=None, submit_threadpool_executor=None):
            pass
        created = [run.run_id for run in self.instance.get_runs() if run.run_id not in known]
        if created:
            _dequeue_once(self._context)
        return created

    def wait(self, run_id: str, timeout_s: float = 300.0) -> dg.DagsterRun:
        return _wait_finished(self.instance, run_id, time.monotonic() + timeout_s)
