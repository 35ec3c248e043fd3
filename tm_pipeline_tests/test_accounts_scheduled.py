"""Two accounts on the scheduled path, launched as the daemon launches it (bench/daemon_launch.py):
the schedule tick creates the run, the queue hands it to the run launcher, the run worker executes
the job with its own executor. The sync test in test_accounts.py runs `tm-pipeline sync` instead;
this is the path a deployment's `dagster dev` or `dagster-daemon` takes every 3 hours.

With several accounts the scheduled job is the extractions alone (schedules.py); the automation
sensor then requests the load, models, checks and publish. That tick is evaluated as
test_dagster_automation.py does (`evaluate_automation_conditions`, then one run of what it requests),
in a process of its own, because the definitions read the accounts file when they are imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tm_pipeline import settings
from tm_pipeline.bench.daemon_launch import launch_scheduled_sync
from tm_pipeline.bench.truth_compare import truth_parameters
from tm_pipeline.runs import dagster_home, instance_for
from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.sandbox.ratelimit import key_fingerprint
from tm_pipeline_tests.accounts_files import accounts_environment, accounts_mismatches

SQL_DIR = Path(__file__).resolve().parent.parent / "dbt_like_sql"
ACCOUNT_KEYS = {"shop_eu": "shop-eu-key", "shop_us": "shop-us-key"}

# The automation sensor: a tick before the scheduled run (as the running sensor has had), then on
# "go" a tick after it and the run it requests, against the instance the daemon's run used.
FOLLOW = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import dagster as dg
    from tm_pipeline.definitions import build_definitions, default_resources, pipeline_assets, pipeline_checks
    from tm_pipeline.runs import instance_for

    data_dir = Path(sys.argv[1])
    defs = build_definitions()
    with instance_for(data_dir) as instance:
        before = dg.evaluate_automation_conditions(defs, instance)
        print("ready", flush=True)
        sys.stdin.readline()
        tick = dg.evaluate_automation_conditions(defs, instance, cursor=before.cursor)
        keys = defs.resolve_asset_graph().get_all_asset_keys()
        requested = sorted((key for key in keys if tick.get_num_requested(key)), key=str)
        print(" ".join(key.to_user_string() for key in requested), flush=True)
        push_job = defs.resolve_job_def("pushes_to_warehouse")
        print(" ".join(key.to_user_string() for key in push_job.asset_layer.executable_asset_keys), flush=True)
        run = dg.materialize([*pipeline_assets(), *pipeline_checks()], selection=requested,
                             resources=default_resources(data_dir), instance=instance)
    sys.exit(0 if run.success else 1)
    """
)


def test_the_schedule_extracts_each_account_in_its_own_process_and_publishes_each_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SandboxConfig(trackings=2500, seed=23, api_keys=tuple(ACCOUNT_KEYS.values()), separate_accounts=True)
    data_dir = tmp_path / "data"
    with SandboxServer(config).running() as sandbox:
        base_urls = {name: sandbox.base_url for name in ACCOUNT_KEYS}
        # The environment a deployment gives `dagster dev`; the code server and run worker inherit it.
        for variable, value in accounts_environment(tmp_path / "accounts.toml", base_urls, ACCOUNT_KEYS).items():
            monkeypatch.setenv(variable, value)
        monkeypatch.delenv(settings.API_KEY_VAR, raising=False)
        monkeypatch.setenv("TM_DATA_DIR", str(data_dir))
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(data_dir)))
        sensor = subprocess.Popen([sys.executable, "-c", FOLLOW, str(data_dir)], env=dict(os.environ),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert sensor.stdout is not None and sensor.stdout.readline().strip() == "ready"
            with instance_for(data_dir) as instance:
                launched = launch_scheduled_sync(instance, timeout_s=300)
                failures = [event.message for event in instance.all_logs(launched.run_id) if event.level >= 40]
                events = instance.all_logs(launched.run_id)
            follow_out, follow_err = sensor.communicate("go\n", timeout=300)
        finally:
            sensor.kill()
        refused = sandbox.stats()["list_429_per_key"]
        parameters = truth_parameters(SQL_DIR)
        truths = {name: sandbox.expected_metrics(**parameters, api_key=key) for name, key in ACCOUNT_KEYS.items()}
        counts = {name: len(sandbox.truth_trackings(api_key=key)) for name, key in ACCOUNT_KEYS.items()}

    assert launched.status == "SUCCESS", failures
    assert isinstance(refused, dict)
    assert [refused.get(key_fingerprint(key), 0) for key in ACCOUNT_KEYS.values()] == [0, 0]
    # each account's extraction ran in a process of its own (the multiprocess executor), at the same time
    starts = {e.step_key: (e.dagster_event.pid, e.timestamp) for e in events
              if e.dagster_event_type == dg.DagsterEventType.STEP_START}
    ends = {e.step_key: e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS}
    steps = [f"trackingmore_extract_{name}" for name in ACCOUNT_KEYS]
    assert set(steps) <= set(starts), sorted(starts)
    (first_pid, first_start), (second_pid, second_start) = starts[steps[0]], starts[steps[1]]
    assert first_pid != second_pid
    assert first_start < ends[steps[1]] and second_start < ends[steps[0]]
    # the sensor's tick asks for the load through the publish, and that run calls no API
    assert sensor.returncode == 0, follow_err[-3000:]
    requested, push_run = (line.split() for line in follow_out.splitlines()[:2])
    assert "raw/trackings" in requested and "published_warehouse" in requested
    assert not any(key.startswith("lake/shop_") for key in requested)
    # nor does a webhook push run, whatever the accounts: no extraction, backfill or registration
    assert "published_warehouse" in push_run
    assert not any(key.startswith("lake/shop_") or key == "lake/registrations" for key in push_run)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        landed = dict(connection.execute("SELECT account, count(*) FROM raw.trackings GROUP BY ALL").fetchall())
        assert landed == counts
        assert accounts_mismatches(connection, truths) == {}
