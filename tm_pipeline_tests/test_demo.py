"""`tm-pipeline demo` end to end: its metric table equals the sandbox's truth and nothing was throttled."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

from tm_pipeline.demo import METRIC_TABLE, run_demo


def test_demo_metric_table_equals_ground_truth_with_no_429(tmp_path: Path) -> None:
    outcome = run_demo(tmp_path / "data", trackings=5000, seed=11)
    assert outcome.success
    with duckdb.connect(str(outcome.database_path), read_only=True) as connection:
        cursor = connection.execute(f"SELECT * FROM main.{METRIC_TABLE} ORDER BY carrier_code")
        names = [d[0] for d in cursor.description]
        actual = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    expected = sorted(outcome.expected_metrics[METRIC_TABLE], key=lambda row: row["carrier_code"])
    assert [row["carrier_code"] for row in actual] == [row["carrier_code"] for row in expected]
    for got, want in zip(actual, expected, strict=True):
        for column, value in want.items():
            if isinstance(value, float):
                assert math.isclose(got[column], value, rel_tol=1e-12), (got["carrier_code"], column)
            else:
                assert got[column] == value, (got["carrier_code"], column)
    assert outcome.sandbox_stats["served_429"] == 0
    rate_check = next(c for c in outcome.checks if c["check"] == "api_rate_limited")
    assert rate_check["passed"] and rate_check["metadata"]["calls"] == 0
