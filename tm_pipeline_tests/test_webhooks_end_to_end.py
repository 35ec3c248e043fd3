"""End to end: clock advances → sandbox pushes → receiver → the sensor's run → published marts = the truth.

The warehouse starts from one polled sync; after that only pushes bring news, with duplicates and
reordering injected. The sensor is driven the way `dagster dev`'s daemon drives it (one sensor
iteration and one run-queue iteration, the run in a run worker process loaded from
workspace.yaml), not with `materialize()`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tm_pipeline.bench.daemon_launch import SensorDriver
from tm_pipeline.bench.truth_compare import MART_GROUPS, mart_mismatches, truth_parameters
from tm_pipeline.definitions import SQL_DIR, default_resources, pipeline_assets, pipeline_checks
from tm_pipeline.landing.lake import Lake
from tm_pipeline.landing.pushes import complete_end, read_records, segment_names
from tm_pipeline.runs import dagster_home, instance_for
from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.schedules import SYNC_SELECTION
from tm_pipeline.webhooks.config import ReceiverConfig
from tm_pipeline.webhooks.seal import unsealed_bytes
from tm_pipeline.webhooks.serve import ReceiverThread

KEY = "e2e-push-key"
SECRET = "ops@shop.example"


@pytest.fixture
def own_sandbox() -> Iterator[SandboxServer]:
    """Its own sandbox: the test moves the clock, which other tests' truths must not see."""
    with SandboxServer(SandboxConfig(trackings=1500, seed=23, api_keys=(KEY,))).running() as server:
        yield server


def _updated_at_out_of_order(root: Path) -> int:
    """Trackings whose pushes arrived with an older updated_at after a newer one."""
    newest: dict[str, str] = {}
    inversions = set()
    for segment in segment_names(root):
        for record in read_records(root, segment, 0, complete_end(root / "pushes" / segment)):
            updated_at = json.loads(record.body)["data"]["updated_at"] or ""
            if updated_at < newest.get(record.tracking_id, ""):
                inversions.add(record.tracking_id)
            newest[record.tracking_id] = max(updated_at, newest.get(record.tracking_id, ""))
    return len(inversions)


def test_pushes_with_duplicates_and_reordering_reach_published_marts_equal_to_the_truth(
    own_sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    for name, value in {
        "TRACKINGMORE_API_KEY": KEY, "TRACKINGMORE_BASE_URL": own_sandbox.base_url, "TM_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(dagster_home(data_dir)),
    }.items():
        monkeypatch.setenv(name, value)
    # The poll that comes first runs on an in-memory instance: only the sensor's run needs the daemon's.
    polled = dg.materialize(
        [*pipeline_assets(), *pipeline_checks()], selection=SYNC_SELECTION,
        resources=default_resources(data_dir, base_url=own_sandbox.base_url, api_key=KEY),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert polled.success

    # TrackingMore's own bursts must pass the per-client limit: the sandbox sends as fast as it can.
    config = ReceiverConfig(path_token="e2e-" + "k" * 28, secret=SECRET, client_rate_per_s=5000, client_burst=5000)
    with ReceiverThread(config, data_dir / "lake") as receiver:
        own_sandbox.configure_webhook({
            "url": receiver.url, "secret": SECRET, "seed": 4, "duplicate_rate": 0.3, "reorder_rate": 0.3,
            "backoff_s": 0.05,
        })
        for _ in range(3):
            own_sandbox.advance_clock(24)
        assert own_sandbox.webhook is not None
        own_sandbox.webhook.flush_held_back()
        assert own_sandbox.webhook.wait_idle(60)
        sent = own_sandbox.webhook.stats()
    assert set(sent["answers"]) == {"200"}
    assert sent["counts"]["duplicated"] > 0 and _updated_at_out_of_order(data_dir / "lake") > 0

    with instance_for(data_dir) as instance, SensorDriver(instance) as daemon:
        (run_id,) = daemon.tick()
        run = daemon.wait(run_id, timeout_s=240)
        assert run.status.value == "SUCCESS", [e.message for e in instance.all_logs(run_id) if e.level >= 40]
        assert run.job_name == "pushes_to_warehouse"
    assert unsealed_bytes(Lake(data_dir / "lake")) == 0

    truth = own_sandbox.expected_metrics(**truth_parameters(SQL_DIR))
    truth_ids = sorted(t["id"] for t in own_sandbox.truth_trackings())
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as published:
        landed = published.execute("SELECT tracking_id FROM raw.trackings ORDER BY 1").fetchall()
        landed_ids = [tracking_id for (tracking_id,) in landed]
        assert landed_ids == truth_ids  # the trackings created after the poll came by push, none twice
        mismatches = [
            problem for mart in sorted(MART_GROUPS) for problem in mart_mismatches(published, mart, truth[mart])
        ]
    assert mismatches == []
