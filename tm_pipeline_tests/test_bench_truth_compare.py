from datetime import date

import duckdb

from tm_pipeline.bench.truth_compare import mart_mismatches


def _warehouse() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE main.delivery_time_by_week AS SELECT DATE '2024-06-03' AS week_start, 3 AS shipments, "
        "2 AS delivered, 1.5 AS mean_delivery_days"
    )
    return connection


def test_equal_rows_have_no_mismatch_even_with_dates_as_text() -> None:
    truth = [{"week_start": "2024-06-03", "shipments": 3, "delivered": 2, "mean_delivery_days": 1.5}]
    assert mart_mismatches(_warehouse(), "delivery_time_by_week", truth) == []
    truth[0]["week_start"] = date(2024, 6, 3)
    assert mart_mismatches(_warehouse(), "delivery_time_by_week", truth) == []


def test_a_wrong_metric_and_a_missing_row_are_reported() -> None:
    truth = [
        {"week_start": "2024-06-03", "shipments": 3, "delivered": 2, "mean_delivery_days": 1.5000001},
        {"week_start": "2024-06-10", "shipments": 1, "delivered": 0, "mean_delivery_days": None},
    ]
    problems = mart_mismatches(_warehouse(), "delivery_time_by_week", truth)
    assert len(problems) == 2
    assert any("mean_delivery_days" in p for p in problems) and any("missing" in p for p in problems)
