"""The whole graph materialized by Dagster against the real sandbox, checked against its ground truth."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tm_pipeline.bench.truth_compare import MART_GROUPS, mart_mismatches
from tm_pipeline.runs import check_outcomes, materialize_all
from tm_pipeline.sandbox import SandboxServer
from tm_pipeline_tests.conftest import sandbox_key, sandbox_resources


@pytest.fixture(scope="module")
def run_setup(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    """One full materialization shared by this module's assertions (a paced run takes seconds)."""
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    key = sandbox_key(sandbox)
    return sandbox_resources(sandbox, key, data_dir), data_dir, key


@pytest.fixture(scope="module")
def pipeline_run(run_setup: tuple[dict, Path, str]):
    resources, data_dir, _ = run_setup
    result = materialize_all(resources, data_dir)
    assert result.success
    return result


@pytest.fixture(scope="module")
def resources(run_setup: tuple[dict, Path, str]) -> dict:
    return run_setup[0]


@pytest.fixture(scope="module")
def api_key(run_setup: tuple[dict, Path, str]) -> str:
    return run_setup[2]


def _query(resources: dict, sql: str) -> list[tuple]:
    with duckdb.connect(str(resources["warehouse"].published_file), read_only=True) as connection:
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
    rate_check = next(c for c in check_outcomes(pipeline_run) if c["check"] == "api_rate_limited")
    assert rate_check["passed"]
    assert rate_check["metadata"]["calls"] == 0


def test_ledger_records_every_call_without_the_key(pipeline_run, resources: dict, api_key: str) -> None:
    rows = _query(
        resources, "SELECT page, http_status, meta_code, rows, params_json FROM raw.api_calls ORDER BY call_seq"
    )
    assert [(page, status, code, n) for page, status, code, n, _ in rows] == [
        (1, 200, 200, 2000), (2, 200, 200, 2000), (3, 200, 200, 500)
    ]
    assert all(api_key not in params for *_, params in rows)


@pytest.mark.parametrize("mart", sorted(MART_GROUPS))
def test_mart_equals_the_sandbox_ground_truth(pipeline_run, resources: dict, sandbox: SandboxServer, mart: str) -> None:
    with duckdb.connect(str(resources["warehouse"].published_file), read_only=True) as connection:
        assert mart_mismatches(connection, mart, sandbox.expected_metrics()[mart]) == []


def test_each_page_reports_progress_as_dagster_metadata(pipeline_run) -> None:
    observations = [
        event.asset_observation_data.asset_observation.metadata for event in pipeline_run.get_asset_observation_events()
    ]
    pages = [(m["page"].value, m["pages_expected"].value, m["rows"].value) for m in observations]
    assert pages == [(1, 3, 2000), (2, 3, 4000), (3, 3, 4500)]
    assert all(m["eta_s"].value >= 0 and m["rows_per_s"].value > 0 for m in observations)


def test_data_as_of_says_how_fresh_the_published_data_is(pipeline_run, resources: dict) -> None:
    """data_as_of is when the newest page arrived. Witnessed by the ledger (written by the fetcher,
    not by the load): the last page's request went out before it, and the build came after it.
    The first page's arrival (min instead of max) or a server timestamp would fall outside."""
    ((trackings, data_as_of, built_at, last_page_requested_at, first_page_requested_at),) = _query(
        resources,
        """SELECT d.trackings, d.data_as_of, d.built_at,
                  (SELECT max(requested_at) FROM raw.api_calls WHERE meta_code = 200 AND rows > 0),
                  (SELECT min(requested_at) FROM raw.api_calls WHERE meta_code = 200 AND rows > 0)
           FROM main.data_as_of AS d""",
    )
    assert trackings == 4500
    assert first_page_requested_at < last_page_requested_at, "the run fetched several pages, paced apart"
    assert last_page_requested_at <= data_as_of <= built_at
