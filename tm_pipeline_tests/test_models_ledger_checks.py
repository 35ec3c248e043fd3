"""Ledger checks judged on hand-built api_calls rows, and the api_health_daily mart."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.checks.api_ledger import ledger_checks, read_latest_run
from tm_pipeline.models.project import load_project
from tm_pipeline.models.runner import build_model
from tm_pipeline_tests.raw_rows import api_call_row, create_raw_tables, insert_rows

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"
CHECKS = {check.name: check for check in ledger_checks()}


@pytest.fixture()
def connection(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_tables(connection)
    yield connection
    connection.close()


def judge(connection: duckdb.DuckDBPyConnection, check_name: str, rows: list[dict]):
    insert_rows(connection, "api_calls", rows)
    build_model(connection, load_project(SQL_DIR).models["stg_api_calls"])
    return CHECKS[check_name].judge(read_latest_run(connection))


def test_auth_error_fails_as_error(connection):
    verdict = judge(connection, "api_auth_errors", [api_call_row(1), api_call_row(2, meta_code=4002)])
    assert (verdict.passed, verdict.severity, verdict.value) == (False, "error", 1.0)


@pytest.mark.parametrize("code", [4012, 4013, 4014, 4015, 4033])
def test_request_errors_fail_as_error(connection, code):
    verdict = judge(connection, "api_request_errors", [api_call_row(1, meta_code=code)])
    assert (verdict.passed, verdict.severity) == (False, "error")


@pytest.mark.parametrize("code", [402, 4019, 4021])
def test_balance_and_quota_fail_as_error(connection, code):
    verdict = judge(connection, "api_billing_errors", [api_call_row(1, meta_code=code)])
    assert (verdict.passed, verdict.severity) == (False, "error")


def test_served_429_warns(connection):
    verdict = judge(
        connection, "api_rate_limited", [api_call_row(1, meta_code=429), api_call_row(2, attempt=2, page=1)]
    )
    assert (verdict.passed, verdict.severity, verdict.value) == (False, "warn", 1.0)


def test_server_error_recovered_on_retry_only_warns(connection):
    verdict = judge(
        connection,
        "api_server_errors",
        [api_call_row(1, meta_code=None, http_status=503), api_call_row(2, page=1, attempt=2)],
    )
    assert (verdict.passed, verdict.severity) == (False, "warn")
    assert verdict.metadata["pages_recovered"] == 1


def test_page_whose_last_attempt_timed_out_is_an_error(connection):
    verdict = judge(
        connection,
        "api_server_errors",
        [
            api_call_row(1, meta_code=500, http_status=500),
            api_call_row(2, page=1, attempt=2, meta_code=None, http_status=None),
        ],
    )
    assert (verdict.passed, verdict.severity, verdict.metadata["pages_unrecovered"]) == (False, "error", 1)


def test_share_of_4031_warns_above_threshold(connection):
    verdict = judge(
        connection, "api_empty_share", [api_call_row(1), *[api_call_row(n, 4031) for n in (2, 3)]]
    )
    assert (verdict.passed, verdict.severity) == (False, "warn")
    assert verdict.value == pytest.approx(2 / 3)


def test_completeness_fails_when_fewer_rows_fetched_than_reported(connection):
    rows = [api_call_row(1, rows=2000, total_reported=2500), api_call_row(2, rows=400, total_reported=2500)]
    verdict = judge(connection, "api_completeness", rows)
    assert (verdict.passed, verdict.severity, verdict.value) == (False, "error", 100.0)


def test_completeness_counts_a_retried_page_once(connection):
    rows = [
        api_call_row(1, rows=2, total_reported=3),
        api_call_row(2, page=1, attempt=2, rows=2, total_reported=3),
        api_call_row(3, page=2, rows=1, total_reported=3),
    ]
    assert judge(connection, "api_completeness", rows).passed


def test_completeness_without_reported_total_warns(connection):
    verdict = judge(connection, "api_completeness", [api_call_row(1, rows=5)])
    assert (verdict.passed, verdict.severity) == (False, "warn")


def test_only_the_latest_run_is_judged(connection):
    later = datetime(2024, 3, 2, tzinfo=timezone.utc)
    rows = [api_call_row(1, meta_code=4001, run_id="old"), api_call_row(1, run_id="new", requested_at=later)]
    assert judge(connection, "api_auth_errors", rows).passed


def test_api_health_daily_counts_per_utc_day_and_endpoint(connection):
    day = datetime(2024, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 2024-03-02 04:30 UTC
    insert_rows(
        connection,
        "api_calls",
        [
            api_call_row(1, requested_at=day),
            api_call_row(2, meta_code=429, requested_at=day),
            api_call_row(3, page=2, attempt=2, requested_at=day),
            api_call_row(4, meta_code=None, http_status=None, requested_at=day),
        ],
    )
    models = load_project(SQL_DIR).models
    build_model(connection, models["stg_api_calls"])
    build_model(connection, models["api_health_daily"])
    row = connection.execute("select * from main.api_health_daily").fetchall()[0]
    assert row[1:5] == (date(2024, 3, 2), "/trackings/get", 4, 2)
    assert row[5] == {"200": 2, "429": 1, "no_response": 1}
    assert row[6:] == (1, 1, 0.5)
