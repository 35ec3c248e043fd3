"""A sync that must wait for another run's pool slot says so, naming the run that holds it.

The holder is a real Dagster run in another process, on the same instance (same data directory,
pools limited to 1), whose one step sits in the API key's pool until the test lets it go; the
waiter is a real `materialize_all` of the whole graph against the sandbox. Releasing the holder
only after the waiter has spoken makes the wait certain rather than a matter of timing. The waiter
uses a key the sandbox does not know, so once its extraction gets the slot it stops after one call
(4001) and the test does not pay for a whole load and model build to prove that it went on.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from tm_pipeline.definitions import default_resources
from tm_pipeline.extract.assets import TRACKINGMORE_POOL
from tm_pipeline.runs import (
    PROCESS_TAG,
    dagster_home,
    instance_for,
    materialize_all,
    release_abandoned_runs,
    step_failures,
)
from tm_pipeline.sandbox import SandboxServer

REPO = Path(__file__).resolve().parent.parent
HOLDER = """
import os, socket, sys, time
from pathlib import Path
import dagster as dg

home, pool, release_file, process_tag = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]

@dg.asset(pool=pool)
def hold_the_api_pool() -> None:
    give_up_at = time.monotonic() + 120  # bounded: the test releases it within seconds
    while not release_file.exists() and time.monotonic() < give_up_at:
        time.sleep(0.1)

result = dg.materialize([hold_the_api_pool], instance=dg.DagsterInstance.from_config(home),
                        tags={process_tag: f"{socket.gethostname()}:{os.getpid()}"})
sys.exit(0 if result.success else 1)
"""


def _wait_until_pool_is_claimed(
    instance: dg.DagsterInstance, holder: subprocess.Popen, deadline_s: float = 60.0
) -> None:
    """Poll (bounded) until the holder's extraction owns a slot of the API key's pool."""
    give_up_at = time.monotonic() + deadline_s
    while time.monotonic() < give_up_at and holder.poll() is None:
        storage = instance.event_log_storage
        if TRACKINGMORE_POOL in storage.get_concurrency_keys():
            if storage.get_concurrency_info(TRACKINGMORE_POOL).claimed_slots:
                return
        time.sleep(0.2)
    raise AssertionError("the holder run never claimed the API pool")


def _wait_for_message(caplog: pytest.LogCaptureFixture, text: str, waiter: threading.Thread) -> list[str]:
    give_up_at = time.monotonic() + 60.0
    while time.monotonic() < give_up_at and waiter.is_alive():
        found = [record.getMessage() for record in caplog.records if text in record.getMessage()]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"the waiting sync never said {text!r}")


def test_a_sync_waiting_for_a_pool_slot_names_the_run_holding_it(
    sandbox: SandboxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    release_file = tmp_path / "release-the-pool"
    home = dagster_home(data_dir)  # the instance both runs share, with its pool limits
    instance = instance_for(data_dir)  # creates its storage now, so two processes do not race to
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home), TRACKINGMORE_POOL, str(release_file), PROCESS_TAG],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    outcome: dict[str, dg.ExecuteInProcessResult] = {}
    resources = default_resources(data_dir, base_url=sandbox.base_url, api_key="a-key-the-sandbox-does-not-know")
    waiter = threading.Thread(target=lambda: outcome.update(result=materialize_all(resources, data_dir)))
    try:
        _wait_until_pool_is_claimed(instance, holder)
        with caplog.at_level(logging.WARNING, logger="tm_pipeline.runs"):
            waiter.start()
            said = _wait_for_message(caplog, f"waiting for pool {TRACKINGMORE_POOL} ", waiter)
            time.sleep(1.5)  # more polls of the reporter: it must not repeat itself
            release_file.touch()
            waiter.join(timeout=120)
        _, holder_stderr = holder.communicate(timeout=60)
    finally:
        release_file.touch()
        if holder.poll() is None:
            holder.kill()
            holder.wait()

    assert holder.returncode == 0, holder_stderr[-2000:]
    assert not waiter.is_alive()
    # It went on once the slot was free: its extraction ran and met the unknown key.
    assert [(step, error) for step, error, _ in step_failures(outcome["result"])] == [
        ("trackingmore_extract", "StopRunError")
    ]
    (holder_run,) = [run for run in instance.get_runs() if run.run_id != outcome["result"].run_id]
    waits = [record.getMessage() for record in caplog.records if "waiting for pool" in record.getMessage()]
    assert waits == said, waits  # said once, not once per poll
    assert holder_run.run_id in said[0] and f":{holder.pid}" in said[0]
    assert "Dagster UI" in said[0]


def test_the_pool_slot_of_a_killed_run_is_released_and_the_run_marked_failed(tmp_path: Path) -> None:
    """A real run in another process claims the API key's pool slot and is killed with SIGKILL,
    which gives it no chance to release the slot; release_abandoned_runs must free it. While the
    holder lives, the same call must leave it alone."""
    data_dir = tmp_path / "data"
    release_file = tmp_path / "never-created"  # the holder is killed, not released
    home = dagster_home(data_dir)
    instance = instance_for(data_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home), TRACKINGMORE_POOL, str(release_file), PROCESS_TAG],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_pool_is_claimed(instance, holder)
        (holder_run,) = instance.get_runs()
        assert release_abandoned_runs(instance) == [], "a live run's slot was taken from it"
        assert instance.event_log_storage.get_concurrency_info(TRACKINGMORE_POOL).claimed_slots
        holder.kill()
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()

    assert holder.returncode == -signal.SIGKILL
    # Killed mid-step: the instance still believes the run is going and the slot is taken.
    assert instance.get_run_by_id(holder_run.run_id).status == dg.DagsterRunStatus.STARTED
    assert instance.event_log_storage.get_concurrency_info(TRACKINGMORE_POOL).claimed_slots

    assert release_abandoned_runs(instance) == [holder_run.run_id]
    assert instance.event_log_storage.get_concurrency_info(TRACKINGMORE_POOL).claimed_slots == []
    assert instance.get_run_by_id(holder_run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert release_abandoned_runs(instance) == [], "a run released twice"
