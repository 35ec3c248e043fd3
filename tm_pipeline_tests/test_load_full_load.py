"""A full rebuild is one flag away: run config `full_load` for Dagster runs, `sync --full-load` on the CLI.

Real Dagster runs of the load step (materialize with the definitions' resources) over a lake of
sandbox items landed through the `Lake` API; the load's own metadata says which mode it ran in.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tm_pipeline import cli, runs, settings
from tm_pipeline.bench.synthetic_lake import land_extraction, restamped, sandbox_items
from tm_pipeline.definitions import default_resources
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.assets import RAW_API_CALLS, RAW_CHECKPOINTS, RAW_QUARANTINE, RAW_STATUS_CODES, RAW_TRACKINGS
from tm_pipeline.runs import materialize_all

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
LOAD_STEP = dg.AssetSelection.assets(RAW_TRACKINGS, RAW_CHECKPOINTS, RAW_API_CALLS, RAW_STATUS_CODES, RAW_QUARANTINE)


def _load_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (materialization,) = [
        event for event in result.get_asset_materialization_events() if event.asset_key == RAW_TRACKINGS
    ]
    metadata = materialization.materialization.metadata
    return {key: value.value for key, value in metadata.items()}


def test_run_config_full_load_rebuilds_what_would_have_been_merged(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    lake = Lake(data_dir / "lake")
    items = list(sandbox_items(60, seed=5, at=T0))
    resources = default_resources(data_dir, base_url="http://127.0.0.1:9/v2", api_key="unused")
    land_extraction(lake, "20260301T000000Z-a", items[:40], T0)
    first = _load_metadata(materialize_all(resources, data_dir, selection=LOAD_STEP))
    land_extraction(lake, "20260301T030000Z-b", [restamped(i, T0 + timedelta(hours=2)) for i in items[30:]],
                    T0 + timedelta(hours=3))
    forced = _load_metadata(
        materialize_all(
            resources, data_dir, selection=LOAD_STEP, run_config_ops={"warehouse_raw_tables": {"full_load": True}}
        )
    )
    land_extraction(lake, "20260301T060000Z-c", [restamped(i, T0 + timedelta(hours=5)) for i in items[:5]],
                    T0 + timedelta(hours=6))
    merged = _load_metadata(materialize_all(resources, data_dir, selection=LOAD_STEP))

    assert (first["load_mode"], forced["load_mode"], merged["load_mode"]) == ("full", "full", "incremental")
    assert "asked for" in forced["full_rebuild_because"]
    assert forced["trackings_changed"] == 60 and forced["dagster/row_count"] == 60
    assert merged["trackings_changed"] == 5 and merged["files_read"] == 2  # c's page and its ledger part


def test_sync_full_load_flag_reaches_the_load_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's wiring only: `materialize_all` is replaced to capture the run config it is given,
    since a whole paced sync would test nothing more of the flag than the Dagster run above."""
    captured: dict[str, Any] = {}

    def capture(resources: Any, data_dir: Path, run_config_ops: dict[str, Any], **_: Any) -> Any:
        captured.update(run_config_ops)
        raise SystemExit(0)

    monkeypatch.setenv(settings.API_KEY_VAR, "test-key")
    monkeypatch.setattr(runs, "materialize_all", capture)
    with pytest.raises(SystemExit):
        cli.main(["sync", "--full-load", "--data-dir", str(tmp_path)])
    assert captured["warehouse_raw_tables"] == {"full_load": True}
    captured.clear()
    with pytest.raises(SystemExit):
        cli.main(["sync", "--data-dir", str(tmp_path)])
    assert "warehouse_raw_tables" not in captured
