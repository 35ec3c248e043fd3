"""The scheduled job launched as `dagster dev`'s daemon launches it: schedule tick, run queue, run launcher.

No `materialize()` here: the code is loaded from workspace.yaml in a code server, the run executes in
the run worker process the instance's launcher starts, against the sandbox over HTTP, with the pool
limits of `<data_dir>/dagster_home/dagster.yaml`.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tm_pipeline.bench.daemon_launch import launch_scheduled_sync
from tm_pipeline.runs import dagster_home, instance_for
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

CADENCE_KEY = "cadence-test-key-0123456789"


@pytest.fixture
def scheduled_env(sandbox: SandboxServer, api_key: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a deployment sets for `dagster dev`; the code server and run worker inherit it."""
    monkeypatch.setenv("TRACKINGMORE_API_KEY", api_key)
    monkeypatch.setenv("TRACKINGMORE_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("TM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(data_dir)))
    return data_dir


def test_schedule_tick_runs_the_sync_in_one_process_and_publishes(scheduled_env: Path, sandbox: SandboxServer) -> None:
    data_dir = scheduled_env
    with instance_for(data_dir) as instance:
        launched = launch_scheduled_sync(instance, timeout_s=120)
        assert launched.status == "SUCCESS", [
            event.message for event in instance.all_logs(launched.run_id) if event.level >= 40
        ]
        run = instance.get_run_by_id(launched.run_id)
        assert run is not None and run.job_name == "incremental_sync"
        assert run.tags.get("dagster/schedule_name") == "incremental_sync_every_3_hours"
        events = instance.all_logs(launched.run_id)

    # In-process executor: every step ran in the run worker's own process, none in a subprocess of its own.
    run_start_pids = {e.dagster_event.pid for e in events if e.dagster_event_type == dg.DagsterEventType.RUN_START}
    step_pids = {e.dagster_event.pid for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_START}
    assert len(run_start_pids) == 1 and step_pids == run_start_pids

    truth_ids = sorted(item["id"] for item in sandbox.truth_trackings())
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as published:
        landed = published.execute("SELECT tracking_id FROM raw.trackings ORDER BY 1").fetchall()
        carriers = published.execute("SELECT count(*) FROM main.delivery_time_by_carrier").fetchone()[0]
    assert [tracking_id for (tracking_id,) in landed] == truth_ids
    expected_carriers = len(sandbox.expected_metrics()["delivery_time_by_carrier"])
    assert carriers == expected_carriers > 0


def test_with_a_full_history_cadence_the_next_scheduled_run_keeps_the_history_marts(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TM_FULL_HISTORY_EVERY_HOURS reaches the run worker the daemon starts: its second run keeps the
    full_history marts (and says so in their materializations) while the facts follow the API. A
    sandbox of its own: advancing its clock must not move the session sandbox other tests read."""
    config = SandboxConfig(trackings=1500, seed=19, api_keys=(CADENCE_KEY,))
    history_mart = "select * from main.lead_time_by_carrier order by all"
    with SandboxServer(config).running() as sandbox:
        monkeypatch.setenv("TRACKINGMORE_API_KEY", CADENCE_KEY)
        monkeypatch.setenv("TRACKINGMORE_BASE_URL", sandbox.base_url)
        monkeypatch.setenv("TM_DATA_DIR", str(data_dir))
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(data_dir)))
        monkeypatch.setenv("TM_FULL_HISTORY_EVERY_HOURS", "24")
        with instance_for(data_dir) as instance:
            first = launch_scheduled_sync(instance, timeout_s=120)
            assert first.status == "SUCCESS"
            with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as published:
                history_before = published.execute(history_mart).fetchall()
            sandbox.advance_clock(6)  # trackings progress: the next sync changes some
            second = launch_scheduled_sync(instance, timeout_s=120, later_ticks=1)
            assert second.status == "SUCCESS"
            kept = {
                event.dagster_event.asset_key.to_user_string(): event.dagster_event.event_specific_data.materialization
                for event in instance.all_logs(second.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
                if event.dagster_event is not None and event.dagster_event.asset_key is not None
            }
        truth_ids = sorted(item["id"] for item in sandbox.truth_trackings())
    assert kept["lead_time_by_carrier"].metadata["full_history_kept"].value is True
    assert "full_history_kept" not in kept["fct_shipments"].metadata
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as published:
        assert published.execute("select count(*) from raw.changed_trackings").fetchone()[0] > 0
        facts = published.execute("select tracking_id from main.fct_shipments order by 1").fetchall()
        assert published.execute(history_mart).fetchall() == history_before
    assert [tracking_id for (tracking_id,) in facts] == truth_ids
