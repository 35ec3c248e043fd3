"""build_report and `tm-pipeline report` on small hand-made warehouses: empty states, failures, the CLI."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.cli import EXIT_OK, EXIT_USAGE, main
from tm_pipeline.report import build_report
from tm_pipeline.report.charts import NO_DATA
from tm_pipeline.report.queries import SCORECARD_MONTHS_SHOWN, STUCK_ROWS_SHOWN

CHART_NAMES = (
    "on-time-by-carrier-month",
    "delivery-days-by-carrier",
    "delivery-days-by-week",
    "exception-rate-by-carrier",
    "exception-rate-by-destination",
    "api-calls-by-day",
    "dq-results-by-run",
)


def _warehouse(path: Path, *statements: str) -> Path:
    with duckdb.connect(str(path)) as connection:
        for statement in statements:
            connection.execute(statement)
    return path


def test_warehouse_without_marts_renders_every_chart_as_no_data_yet(tmp_path: Path) -> None:
    database = _warehouse(tmp_path / "warehouse.duckdb", "create schema if not exists raw")
    summary = build_report(database, tmp_path / "report.html")
    html = summary.path.read_text()
    assert summary.charts == CHART_NAMES
    assert set(summary.rows_per_chart.values()) == {0}
    assert html.count(f">{NO_DATA}<") == len(CHART_NAMES)
    assert 'class="mark"' not in html
    assert "No trackings loaded yet" in html


def test_latest_failed_checks_are_listed_and_data_is_escaped(tmp_path: Path) -> None:
    database = _warehouse(
        tmp_path / "warehouse.duckdb",
        """create table main.exception_rate_by_destination (destination_country varchar, scanned_shipments bigint,
           exception_shipments bigint, exception_rate double, ever_exception_shipments bigint,
           ever_exception_rate double)""",
        """insert into main.exception_rate_by_destination values
           ('<b>DE</b>', 10, 1, 0.1, 2, 0.2), (null, 5, 0, 0.0, 1, 0.2), ('FR', 7, 2, 0.28, 2, 0.28)""",
        """create table main.dq_check_results (run_id varchar, check_name varchar, asset varchar, passed boolean,
           severity varchar, value double, checked_at timestamptz)""",
        """insert into main.dq_check_results values
           ('run-1', 'unique_tracking_id', 'fct_shipments', false, 'error', 3, '2024-06-01 10:00+00'),
           ('run-2', 'unique_tracking_id', 'fct_shipments', true, 'error', 0, '2024-06-02 10:00+00'),
           ('run-2', 'api_rate_limited', 'stg_api_calls', false, 'warn', 4, '2024-06-02 10:00+00')""",
    )
    summary = build_report(database, tmp_path / "report.html")
    html = summary.path.read_text()
    assert summary.rows_per_chart["exception-rate-by-destination"] == 3
    assert summary.rows_per_chart["dq-results-by-run"] == 2
    assert "&lt;b&gt;DE&lt;/b&gt;" in html and "<b>DE</b>" not in html
    assert ">unknown<" in html  # a NULL destination gets a readable label
    latest_failures = html.split("Failed checks in the latest run (run-2)")[1]
    assert "api_rate_limited" in latest_failures and "unique_tracking_id" not in latest_failures


def test_stuck_list_shows_the_longest_silences_first_and_counts_the_rest(tmp_path: Path) -> None:
    extra = 3
    database = _warehouse(
        tmp_path / "warehouse.duckdb",
        """create table main.stuck_shipments (tracking_id varchar, tracking_number varchar, carrier_code varchar,
           status varchar, original_country varchar, destination_country varchar, last_checkpoint_at timestamp,
           days_since_last_checkpoint double, data_as_of timestamp)""",
        # silence grows with n, stored in the opposite order of the one the page must show
        f"""insert into main.stuck_shipments
            select 'id-' || n, 'NUM' || lpad(n::varchar, 3, '0'), 'ups', 'transit', null, null,
                   timestamp '2024-06-01' - to_days(n::int), 5.0 + n, timestamp '2024-06-10'
            from range({STUCK_ROWS_SHOWN + extra}) as numbers(n)""",
    )
    html = build_report(database, tmp_path / "report.html").path.read_text()
    stuck = html.split('data-table="stuck-shipments"')[1].split("</div>")[0]
    shown = [int(number) for number in re.findall(r">NUM(\d{3})<", stuck)]
    assert shown == list(range(STUCK_ROWS_SHOWN + extra - 1, extra - 1, -1))  # longest silence first, capped
    assert f"{extra:,} more stuck shipments" in stuck
    assert f"Stuck shipments ({STUCK_ROWS_SHOWN + extra:,})" in stuck


def test_scorecard_shows_the_newest_creation_months_only(tmp_path: Path) -> None:
    months = SCORECARD_MONTHS_SHOWN + 2
    database = _warehouse(
        tmp_path / "warehouse.duckdb",
        """create table main.carrier_scorecard_monthly (carrier_code varchar, created_month date, shipments bigint,
           delivered bigint, mean_transit_days double, p50_transit_business_days double,
           p90_transit_business_days double, mean_last_mile_days double, first_attempt_rate double,
           on_time_rate double, late bigint, stuck bigint, stuck_share double, never_scanned_rate double,
           expired_rate double)""",
        f"""insert into main.carrier_scorecard_monthly
            select 'dhl', date '2024-01-01' + to_months(n::int), 10, 8, 3.5, 3, 5, 0.5, 0.75, null, 1, 1, 0.5,
                   0.1, 0.0
            from range({months}) as numbers(n)""",
    )
    html = build_report(database, tmp_path / "report.html").path.read_text()
    scorecard = html.split('data-table="carrier-scorecard"')[1].split("</div>")[0]
    shown = re.findall(r">(2024-\d\d)<", scorecard)
    expected = [f"2024-{month:02d}" for month in range(months, months - SCORECARD_MONTHS_SHOWN, -1)]
    assert shown == expected
    assert "—" in scorecard  # an on-time rate without promised deliveries is a dash, not 0%


def test_building_the_report_leaves_the_warehouse_file_unchanged(tmp_path: Path) -> None:
    database = _warehouse(
        tmp_path / "warehouse.duckdb",
        "create table main.delivery_time_by_week (week_start date, shipments bigint, delivered bigint, "
        "mean_delivery_days double, p50_delivery_days double, p90_delivery_days double, p95_delivery_days double)",
        "insert into main.delivery_time_by_week values ('2024-01-01', 3, 2, 1.5, 1.0, 2.0, 2.0)",
    )
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    build_report(database, tmp_path / "report.html")
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_missing_warehouse_is_an_error_not_an_empty_database(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        build_report(tmp_path / "warehouse.duckdb", tmp_path / "report.html")
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_cli_report_without_warehouse_exits_2_and_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--data-dir", str(tmp_path)]) == EXIT_USAGE
    assert "run `tm-pipeline demo` or `tm-pipeline sync` first" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_cli_report_writes_next_to_the_warehouse_and_prints_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _warehouse(tmp_path / "warehouse.duckdb", "create schema if not exists raw")
    assert main(["report", "--data-dir", str(tmp_path)]) == EXIT_OK
    written = tmp_path / "report.html"
    assert capsys.readouterr().out.strip() == str(written.resolve())
    assert written.read_text().startswith("<!DOCTYPE html>")


def test_cli_report_out_option_chooses_the_file(tmp_path: Path) -> None:
    _warehouse(tmp_path / "warehouse.duckdb", "create schema if not exists raw")
    out = tmp_path / "site" / "index.html"
    assert main(["report", "--data-dir", str(tmp_path), "--out", str(out)]) == EXIT_OK
    assert out.exists() and not (tmp_path / "report.html").exists()
