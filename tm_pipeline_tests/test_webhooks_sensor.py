"""The sensor's decision: a run when pushes wait, none when nothing waits or a push run is in flight.

Evaluated directly on an in-memory instance; the daemon's own path (sensor tick → queue → run
worker) is test_webhooks_end_to_end.py's.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from tm_pipeline.definitions import build_definitions
from tm_pipeline.landing.lake import Lake
from tm_pipeline.landing.pushes import PushLog
from tm_pipeline.resources import LakeResource
from tm_pipeline.webhooks.assets import PUSH_JOB_NAME, pushes_waiting
from tm_pipeline.webhooks.seal import seal_pushes


def _evaluate(instance: dg.DagsterInstance, lake_root: Path) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, resources={"lake": LakeResource(root=str(lake_root))})
    return pushes_waiting(context)  # type: ignore[no-any-return]


def _land_one(lake_root: Path) -> None:
    log = PushLog(lake_root).open()
    body = json.dumps({"data": {"id": "a" * 32, "tracking_number": "1", "carrier_code": "ups"}}).encode()
    log.append(body, "v2", "a" * 32, datetime.now(timezone.utc))
    log.close()


def test_the_sensor_asks_for_one_run_only_while_pushes_wait_and_none_is_in_flight(tmp_path: Path) -> None:
    lake_root = tmp_path / "lake"
    with dg.DagsterInstance.ephemeral() as instance:
        assert isinstance(_evaluate(instance, lake_root), dg.SkipReason)
        _land_one(lake_root)
        requested = _evaluate(instance, lake_root)
        assert isinstance(requested, dg.SensorResult) and len(requested.run_requests or []) == 1

        in_flight = dg.DagsterRun(job_name=PUSH_JOB_NAME, status=dg.DagsterRunStatus.STARTED)
        instance.add_run(in_flight)
        skipped = _evaluate(instance, lake_root)
        assert isinstance(skipped, dg.SkipReason) and in_flight.run_id in (skipped.skip_message or "")

        seal_pushes(Lake(lake_root))
        instance.report_run_failed(in_flight)
        assert isinstance(_evaluate(instance, lake_root), dg.SkipReason)


def test_the_sensor_is_on_by_default_and_targets_the_push_job() -> None:
    (sensor,) = [s for s in build_definitions().sensors if s.name == "pushes_waiting"]
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == PUSH_JOB_NAME
    job = build_definitions().resolve_job_def(PUSH_JOB_NAME)
    assert "trackingmore_extract" not in {node.name for node in job.graph.node_defs}  # never spends the API key
