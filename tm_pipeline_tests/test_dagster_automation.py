"""Automation: what docs/operations.md promises happens on its own, with the sensor's ticks driven by hand.

`dg.evaluate_automation_conditions` evaluates the same conditions the sensor evaluates on a tick;
each tick's requested assets are then executed as one run, which is what the sensor (with
`emit_backfills=False`) asks the daemon to launch. Driving ticks by hand keeps the test
deterministic; the daemon's own launch path is covered by test_dagster_scheduled_run.py. The
instance is Dagster's in-memory one: conditions read the same event records from it as from the
SQLite files of `<data_dir>/dagster_home`, without a disk sync per event.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb

from tm_pipeline.definitions import build_definitions, pipeline_assets, pipeline_checks
from tm_pipeline.extract.assets import LAKE_API_CALLS, LAKE_BACKFILL, LAKE_TRACKINGS
from tm_pipeline.publish.assets import PUBLISHED_WAREHOUSE
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


def _follow(defs: dg.Definitions, instance: dg.DagsterInstance, resources: dict, cursor) -> tuple[list, object]:
    """Tick and run what each tick requests until a tick requests nothing (bounded by MAX_TICKS)."""
    requested_per_tick = []
    for _ in range(MAX_TICKS):
        requested, cursor = _tick(defs, instance, cursor)
        if not requested:
            return requested_per_tick, cursor
        requested_per_tick.append(requested)
        _run(requested, resources, instance)
    raise AssertionError(f"automation still requested runs after {MAX_TICKS} ticks: {requested_per_tick}")


def _published_run(instance: dg.DagsterInstance) -> str | None:
    event = instance.get_latest_materialization_event(PUBLISHED_WAREHOUSE)
    return event.run_id if event else None


def test_a_manual_extraction_or_a_backfilled_day_reaches_the_published_warehouse_on_its_own(
    resources: dict, data_dir: Path, sandbox: SandboxServer
) -> None:
    defs = build_definitions(resources)
    truth = sandbox.truth_trackings()
    with dg.DagsterInstance.ephemeral() as instance:
        requested, cursor = _tick(defs, instance, None)
        assert requested == set()  # nothing to follow before any data exists
        # What "Materialize" on lake/trackings in the UI does: the extraction alone.
        dg.materialize([*pipeline_assets()], selection=[LAKE_TRACKINGS, LAKE_API_CALLS], resources=resources,
                       instance=instance)
        after_extraction, cursor = _follow(defs, instance, resources, cursor)
        published_after_extraction = _published_run(instance)

        # A backfill of one created day (the UI's "Materialize → select partitions").
        created_days = sorted({datetime.fromisoformat(str(item["created_at"])).astimezone(timezone.utc).date()
                               for item in truth})
        dg.materialize([*pipeline_assets()], selection=[LAKE_BACKFILL], partition_key=created_days[0].isoformat(),
                       resources=resources, instance=instance)
        after_backfill, _ = _follow(defs, instance, resources, cursor)
        published_after_backfill = _published_run(instance)
        automation_tags = {run_id: instance.get_run_by_id(run_id).tags.get("test/automation_tick")
                           for run_id in (published_after_extraction, published_after_backfill) if run_id}

    for ticks in (after_extraction, after_backfill):
        assert ticks and PUBLISHED_WAREHOUSE in ticks[-1]
        assert all(not {LAKE_TRACKINGS, LAKE_BACKFILL} & tick for tick in ticks)  # never spends the API
    assert published_after_backfill != published_after_extraction
    assert set(automation_tags.values()) == {"1"} and len(automation_tags) == 2  # both published by automation
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        landed = connection.execute("SELECT tracking_id FROM raw.trackings ORDER BY 1").fetchall()
    assert [tracking_id for (tracking_id,) in landed] == sorted(item["id"] for item in truth)


def test_a_scheduled_sync_leaves_the_sensor_nothing_to_rebuild(resources: dict) -> None:
    defs = build_definitions(resources)
    with dg.DagsterInstance.ephemeral() as instance:
        _, cursor = _tick(defs, instance, None)
        assert defs.resolve_job_def("incremental_sync").execute_in_process(instance=instance).success
        requested, _ = _tick(defs, instance, cursor)
    assert requested == set()
