"""workspace.yaml is what `dagster dev` loads: it must expose every asset and check of the pipeline."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
MODEL_FILES = sorted(p.stem for p in (REPO / "dbt_like_sql").glob("*/*.sql") if p.parent.name != "tests")


def _definitions_from_workspace() -> dg.Definitions:
    (entry,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    target = entry["python_module"]
    module = importlib.import_module(target["module_name"])
    return getattr(module, target["attribute"])


def test_workspace_exposes_extract_load_and_every_sql_model() -> None:
    keys = {key.to_user_string() for key in _definitions_from_workspace().resolve_all_asset_keys()}
    assert {"lake/trackings", "lake/api_calls", "raw/trackings", "raw/checkpoints", "raw/api_calls"} <= keys
    assert set(MODEL_FILES) <= keys


def test_workspace_exposes_the_api_status_and_data_test_checks() -> None:
    graph = _definitions_from_workspace().resolve_asset_graph()
    check_names = {key.name for key in graph.asset_check_keys}
    assert {"api_auth_errors", "api_request_errors", "api_billing_errors", "api_rate_limited",
            "api_server_errors", "api_completeness"} <= check_names
    assert any(name.startswith("unique_") for name in check_names)


def test_dagster_itself_loads_the_workspace(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert "Validation successful" in completed.stdout + completed.stderr, completed.stderr[-2000:]


def test_workspace_has_groups_schedule_pools_and_env_configured_resources() -> None:
    defs = _definitions_from_workspace()
    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {"register", "extract", "load", "models", "publish", "maintenance"} <= groups
    assert {(schedule.name, schedule.cron_schedule) for schedule in defs.schedules} == {
        ("incremental_sync_every_3_hours", "0 */3 * * *"), ("lake_compaction_daily", "30 1 * * *")
    }
    pools = {asset.op.pool for asset in defs.assets if isinstance(asset, dg.AssetsDefinition)}
    assert "duckdb_warehouse" in pools and any(str(pool).startswith("trackingmore_api") for pool in pools)
    assert set(defs.resources) == {"registration", "trackingmore", "lake", "warehouse"}
    assert isinstance(defs.resources["trackingmore"].api_key, dg.EnvVar)  # resolved at run time, never stored


def test_a_run_without_the_key_names_the_missing_variable(tmp_path: Path, monkeypatch) -> None:
    from tm_pipeline.definitions import default_resources
    from tm_pipeline.runs import materialize_all

    monkeypatch.delenv("TRACKINGMORE_API_KEY", raising=False)
    with pytest.raises(dg.DagsterError) as raised:
        materialize_all(default_resources(tmp_path), tmp_path)
    assert 'environment variable "TRACKINGMORE_API_KEY"' in f"{raised.value} {raised.value.__cause__}"


def test_every_asset_is_described_and_tables_carry_column_docs() -> None:
    graph = _definitions_from_workspace().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key.to_user_string()} has no description"
        if key.path[0] not in ("published_warehouse", "lake") or key.path[-1] in ("trackings", "api_calls"):
            schema = node.metadata.get("dagster/column_schema")
            assert schema is not None and all(column.description for column in schema.columns), key
