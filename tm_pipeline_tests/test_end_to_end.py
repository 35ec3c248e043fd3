"""The whole graph materialized by Dagster against the real sandbox, checked against its ground truth."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tm_pipeline.runs import check_outcomes, materialize_all
from tm_pipeline.sandbox import SandboxServer


@pytest.fixture
def pipeline_run(resources: dict, data_dir: Path):
    result = materialize_all(resources, data_dir)
    assert result.success
    return result


def _query(resources: dict, sql: str) -> list[tuple]:
    with duckdb.connect(resources["warehouse"].database_path, read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_every_tracking_lands_exactly_once(pipeline_run, resources: dict, sandbox: SandboxServer) -> None:
    truth_ids = sorted(item["id"] for item in sandbox.truth_trackings())
    landed_ids = [row[0] for row in _query(resources, "SELECT tracking_id FROM raw.trackings ORDER BY 1")]
    assert landed_ids == truth_ids


def test_checkpoints_match_the_items_served(pipeline_run, resources: dict, sandbox: SandboxServer) -> None:
    expected = sum(
        len((item.get(leg) or {}).get("trackinfo") or [])
        for item in sandbox.truth_trackings()
        for leg in ("origin_info", "destination_info")
    )
    assert _query(resources, "SELECT count(*) FROM raw.checkpoints") == [(expected,)]


def test_paced_run_is_never_answered_429(pipeline_run, resources: dict, sandbox: SandboxServer) -> None:
    assert _query(resources, "SELECT count(*) FROM raw.api_calls WHERE meta_code = 429") == [(0,)]
    status_check = next(c for c in check_outcomes(pipeline_run) if c["check"] == "api_status_codes")
    assert status_check["passed"]
    assert status_check["metadata"]["served_429"] == 0


def test_ledger_records_every_call_without_the_key(pipeline_run, resources: dict, api_key: str) -> None:
    rows = _query(
        resources, "SELECT page, http_status, meta_code, rows, params_json FROM raw.api_calls ORDER BY call_seq"
    )
    assert [(page, status, code, n) for page, status, code, n, _ in rows] == [
        (1, 200, 200, 2000), (2, 200, 200, 2000), (3, 200, 200, 500)
    ]
    assert all(api_key not in params for *_, params in rows)
