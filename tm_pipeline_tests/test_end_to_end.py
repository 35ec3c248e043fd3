"""The whole graph materialized by Dagster against the real sandbox, checked against its ground truth."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tm_pipeline.bench.truth_compare import MART_GROUPS, mart_mismatches, truth_parameters
from tm_pipeline.definitions import SQL_DIR
from tm_pipeline.models.project import read_project_paths
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


@pytest.fixture(scope="module")
def truth(pipeline_run, sandbox: SandboxServer) -> dict[str, list[dict]]:
    """The sandbox's ground truth, computed with the vars (holidays, stuck threshold) of the build."""
    return sandbox.expected_metrics(**truth_parameters(SQL_DIR))


@pytest.mark.parametrize("mart", sorted(MART_GROUPS))
def test_mart_equals_the_sandbox_ground_truth(pipeline_run, resources: dict, truth: dict, mart: str) -> None:
    assert truth[mart], f"the sandbox data gives {mart} no rows, so equality would prove nothing"
    with duckdb.connect(str(resources["warehouse"].published_file), read_only=True) as connection:
        assert mart_mismatches(connection, mart, truth[mart]) == []


def test_every_delivery_attempt_outcome_occurs_in_the_test_data(truth: dict) -> None:
    """Equality on first_attempt_by_carrier_month proves little if an outcome never happens."""
    outcomes = {row["delivery_attempt"] for row in truth["fct_shipment_journeys"]}
    assert outcomes >= {"first_attempt", "after_failed_attempt", "after_pickup_point_notice", "after_exception"}


def test_every_promise_verdict_occurs_in_the_test_data(truth: dict) -> None:
    verdicts = {row["delivery_promise_status"] for row in truth["fct_shipment_journeys"]}
    assert verdicts >= {"early", "on_time", "late"}


def test_every_active_promise_status_occurs_in_the_test_data(truth: dict) -> None:
    """Equality on active_promise_status_by_carrier proves the rule only for statuses that occur."""
    statuses = {row["active_promise_status"] for row in truth["fct_shipment_journeys"]}
    assert statuses == {"on_track", "at_risk", "overdue", None}


def test_the_comparison_notices_another_at_risk_margin(pipeline_run, resources: dict, sandbox: SandboxServer) -> None:
    """The at-risk margin is the models' var: a truth built with a wider one must not match."""
    parameters = truth_parameters(SQL_DIR)
    parameters["at_risk_within_business_days"] += 2
    other_truth = sandbox.expected_metrics(**parameters)
    with duckdb.connect(str(resources["warehouse"].published_file), read_only=True) as connection:
        assert mart_mismatches(
            connection, "active_promise_status_by_carrier", other_truth["active_promise_status_by_carrier"]
        ) != []


def test_the_comparison_notices_another_stuck_threshold(
    pipeline_run, resources: dict, sandbox: SandboxServer
) -> None:
    """The stuck list depends on the threshold: a truth built with another one must not match."""
    parameters = {**truth_parameters(SQL_DIR), "stuck_after_days": truth_parameters(SQL_DIR)["stuck_after_days"] + 3}
    other_truth = sandbox.expected_metrics(**parameters)
    with duckdb.connect(str(resources["warehouse"].published_file), read_only=True) as connection:
        assert mart_mismatches(connection, "stuck_shipments", other_truth["stuck_shipments"]) != []


def test_stuck_share_warns_per_carrier_with_its_stuck_shipments(pipeline_run, truth: dict) -> None:
    """The WARN asset check names exactly the carriers above the threshold, each with its stuck list."""
    threshold = float(read_project_paths(SQL_DIR).variables["stuck_share_warn_above"])
    active: dict[str, int] = {}
    stuck: dict[str, int] = {}
    for row in truth["stuck_share_by_carrier_status"]:
        active[row["carrier_code"]] = active.get(row["carrier_code"], 0) + row["active_shipments"]
        stuck[row["carrier_code"]] = stuck.get(row["carrier_code"], 0) + row["stuck_shipments"]
    over = sorted(carrier for carrier in active if stuck[carrier] / active[carrier] > threshold)
    check = next(
        c for c in check_outcomes(pipeline_run) if c["check"] == "assert_stuck_share_per_carrier_below_warn_level"
    )
    assert (check["passed"], check["severity"], check["metadata"]["failing_rows"]) == (not over, "WARN", len(over))
    for sample in check["metadata"]["sample_failing_rows"]:
        listed = sorted(sample["stuck_tracking_numbers"].split(", "))
        expected = sorted(
            row["tracking_number"] for row in truth["stuck_shipments"] if row["carrier_code"] == sample["carrier_code"]
        )
        assert (sample["carrier_code"] in over, listed) == (True, expected)


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
