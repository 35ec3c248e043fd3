"""Compare the warehouse's marts with the sandbox's independent ground truth, row by row.

Group columns identify a row; metrics must agree to 1e-12 relative (the same numbers computed in
another order), counts exactly. Values are compared as plain Python or as JSON text (dates as ISO
strings), so the truth can come from the sandbox object or over HTTP.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from tm_pipeline.models.project import read_project_paths

MART_GROUPS: dict[str, tuple[str, ...]] = {
    "delivery_time_by_carrier": ("carrier_code",),
    "delivery_time_by_lane": ("original_country", "destination_country"),
    "delivery_time_by_week": ("week_start",),
    "exception_rate_by_carrier": ("carrier_code",),
    "exception_rate_by_destination": ("destination_country",),
    "exception_rate_by_week": ("week_start",),
    "fct_shipment_journeys": ("tracking_id",),
    "lead_time_by_carrier": ("carrier_code",),
    "lead_time_by_lane": ("carrier_code", "original_country", "destination_country"),
    "first_attempt_by_carrier_month": ("carrier_code", "delivered_month"),
    "stuck_shipments": ("tracking_id",),
    "stuck_share_by_carrier_status": ("carrier_code", "status"),
    "scan_coverage_by_carrier": ("carrier_code",),
    "on_time_by_carrier_month": ("carrier_code", "delivered_month"),
    "carrier_scorecard_monthly": ("carrier_code", "created_month"),
    "active_promise_status_by_carrier": ("carrier_code", "active_promise_status"),
}


def truth_parameters(sql_dir: Path) -> dict[str, Any]:
    """The models' vars as keyword arguments of the sandbox's `expected_metrics`, so the truth
    is computed with the holidays, stuck threshold, promises and at-risk margin the warehouse was
    built with."""
    variables = read_project_paths(sql_dir).variables
    return {
        "holidays": frozenset(date.fromisoformat(day) for day in variables["working_day_holidays"]),
        "stuck_after_days": int(variables["stuck_after_days"]),
        "promises": tuple(
            (str(rule["carrier_code"]), str(rule["destination_country"]), int(rule["business_days"]))
            for rule in variables["delivery_promises"]
        ),
        "at_risk_within_business_days": int(variables["promise_at_risk_within_business_days"]),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-12)
    return bool(actual == expected)


def mart_mismatches(
    connection: duckdb.DuckDBPyConnection, mart: str, expected_rows: list[dict[str, Any]], account: str | None = None
) -> list[str]:
    """Human-readable differences between `main.<mart>` (only `account`'s rows when given) and the
    expected rows; empty when equal."""
    groups = MART_GROUPS[mart]
    if account is None:
        cursor = connection.execute(f"SELECT * FROM main.{mart}")
    else:
        cursor = connection.execute(f"SELECT * FROM main.{mart} WHERE account = ?", [account])
    names = [column[0] for column in cursor.description]
    actual = {}
    for row in cursor.fetchall():
        record = {name: _plain(value) for name, value in zip(names, row, strict=True)}
        actual[tuple(record[c] for c in groups)] = record
    expected = {tuple(_plain(row[c]) for c in groups): row for row in expected_rows}
    problems = [f"{mart}: row {key} missing" for key in expected.keys() - actual.keys()]
    problems += [f"{mart}: row {key} unexpected" for key in actual.keys() - expected.keys()]
    for key in expected.keys() & actual.keys():
        for column, value in expected[key].items():
            if not _same(actual[key].get(column), _plain(value)):
                problems.append(f"{mart} {key} {column}: warehouse {actual[key].get(column)!r}, truth {value!r}")
    return problems
