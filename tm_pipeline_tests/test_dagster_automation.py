"""Automation: what docs/operations.md promises happens on its own, with the sensor's ticks driven by hand.

`dg.evaluate_automation_conditions` evaluates the same conditions the sensor evaluates on a tick;
each tick's requested assets are then executed as one run, which is what the sensor (with
`emit_backfills=False`) asks the daemon to launch. Driving ticks by hand keeps the test
deterministic; the daemon's own launch path is covered by test_dagster_scheduled_run.py.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from tm_pipeline.definitions import build_definitions, pipeline_assets, pipeline_checks
from tm_pipeline.extract.assets import LAKE_API_CALLS, LAKE_BACKFILL, LAKE_TRACKINGS
from tm_pipeline.publish.assets import PUBLISHED_WAREHOUSE
from tm_pipeline.runs import instance_for, materialize_all
from tm_pipeline.sandbox import SandboxServer

MAX_TICKS = 4  # the whole graph follows in one tick; more would mean runs keep re-triggering


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor) -> tuple[set[dg.AssetKey], object]:
    result = dg.evaluate_automation_conditions(defs, instance, cursor=cursor)
    requested = {key for key in defs.resolve_asset_graph().get_all_asset_keys() if result.get_num_requested(key)}
    return requested, result.cursor


def _run(requested: set[dg.AssetKey], resources: dict, instance: dg.DagsterInstance) -> None:
    """One run for the tick's requested assets, with their checks, as the sensor's run request would be."""
    result = dg.materialize(
        [*pipeline_assets(), *pipeline_checks()], selection=sorted(requested, key=str), resources=resources,
        instance=instance, tags={"test/automation_tick": "1"},
    )
    assert result.success


def test_the_automation_sensor_is_on_by_default() -> None:
    sensors = build_definitions().sensors
    automation = [s for s in sensors if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert len(automation) == 1 and automation[0].default_status == dg.DefaultSensorStatus.RUNNING


def test_a_manual_extraction_reaches_the_published_warehouse_on_its_own(
    resources: dict, data_dir: Path, sandbox: SandboxServer
) -> None:
    defs = build_definitions(resources)
    with instance_for(data_dir) as instance:
        requested, cursor = _tick(defs, instance, None)
        assert requested == set()  # nothing to follow before any data exists
        # What "Materialize" on lake/trackings in the UI does: the extraction alone.
        dg.materialize([*pipeline_assets()], selection=[LAKE_TRACKINGS, LAKE_API_CALLS], resources=resources,
                       instance=instance)
        requested_per_tick = []
        for _ in range(MAX_TICKS):
            requested, cursor = _tick(defs, instance, cursor)
            if not requested:
                break
            requested_per_tick.append(requested)
            _run(requested, resources, instance)
        published = instance.get_latest_materialization_event(PUBLISHED_WAREHOUSE)

    assert requested_per_tick and not requested  # the ticks ran out of work within the bound
    assert all(not {LAKE_TRACKINGS, LAKE_BACKFILL} & tick for tick in requested_per_tick)  # never spends the API
    assert published is not None
    assert instance.get_run_by_id(published.run_id).tags.get("test/automation_tick") == "1"
    truth_ids = sorted(item["id"] for item in sandbox.truth_trackings())
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        landed = connection.execute("SELECT tracking_id FROM raw.trackings ORDER BY 1").fetchall()
    assert [tracking_id for (tracking_id,) in landed] == truth_ids


def test_a_scheduled_sync_leaves_the_sensor_nothing_to_rebuild(resources: dict, data_dir: Path) -> None:
    defs = build_definitions(resources)
    with instance_for(data_dir) as instance:
        _, cursor = _tick(defs, instance, None)
        assert materialize_all(resources, data_dir).success
        requested, _ = _tick(defs, instance, cursor)
    assert requested == set()
