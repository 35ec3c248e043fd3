"""The SQL the report reads: small aggregates over the marts, so the page never holds raw rows.

A mart the warehouse does not have yet (a blocked run, or `dq_check_results` before any check
ran) reads as no rows, and its chart says "no data yet" instead of the report failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import duckdb

DESTINATIONS_SHOWN = 15  # the busiest destinations; a long tail of tiny countries is noise on a rate chart
API_DAYS_SHOWN = 60
API_TABLE_ROWS = 10
DQ_RUNS_SHOWN = 30
SCORECARD_MONTHS_SHOWN = 3  # the newest creation cohorts; older months are settled and in the warehouse
ON_TIME_CARRIERS_SHOWN = 6  # the carriers with the most promised deliveries: more lines are unreadable
STUCK_ROWS_SHOWN = 25  # the top of the morning list; the rest is counted in an "N more" line


class Freshness(NamedTuple):
    data_as_of: datetime | None
    newest_update_at: datetime | None
    trackings: int
    built_at: datetime | None


class Headline(NamedTuple):
    shipments: int
    delivered: int
    median_delivery_days: float | None
    scanned: int
    exception_rate: float | None


class CarrierDelivery(NamedTuple):
    carrier_code: str
    shipments: int
    delivered: int
    p10: float
    p25: float
    p50: float
    p75: float
    p90: float


class WeekDelivery(NamedTuple):
    week_start: date
    shipments: int
    delivered: int
    p50_delivery_days: float | None
    p90_delivery_days: float | None


class ExceptionRate(NamedTuple):
    label: str
    scanned_shipments: int
    exception_shipments: int
    exception_rate: float
    ever_exception_shipments: int
    ever_exception_rate: float


class ApiDay(NamedTuple):
    day: date
    calls: int
    not_errors: int
    other_errors: int
    served_429: int
    retries: int


class ApiEndpointDay(NamedTuple):
    day: date
    endpoint: str
    calls: int
    error_share: float
    calls_by_code: list[dict[str, Any]]


class DqRun(NamedTuple):
    run_id: str
    started_at: datetime
    passed: int
    failed_warn: int
    failed_error: int


class DqFailure(NamedTuple):
    check_name: str
    asset: str
    severity: str
    value: float | None


class ScorecardRow(NamedTuple):
    carrier_code: str
    created_month: date
    shipments: int
    delivered: int
    mean_transit_days: float | None
    p90_transit_business_days: float | None
    first_attempt_rate: float | None
    on_time_rate: float | None
    stuck: int
    stuck_share: float | None
    never_scanned_rate: float
    expired_rate: float


class OnTimeMonth(NamedTuple):
    carrier_code: str
    delivered_month: date
    promised_shipments: int
    on_time_shipments: int
    on_time_rate: float


class StuckShipment(NamedTuple):
    tracking_number: str
    carrier_code: str
    status: str
    destination_country: str | None
    last_checkpoint_at: datetime
    days_since_last_checkpoint: float


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows, read in one short read-only session."""

    freshness: Freshness | None
    headline: Headline | None
    delivery_by_carrier: list[CarrierDelivery]
    delivery_by_week: list[WeekDelivery]
    exceptions_by_carrier: list[ExceptionRate]
    exceptions_by_destination: list[ExceptionRate]
    api_days: list[ApiDay]
    api_recent: list[ApiEndpointDay]
    dq_runs: list[DqRun]
    dq_latest_failures: list[DqFailure]
    scorecard: list[ScorecardRow]
    on_time_by_month: list[OnTimeMonth]
    stuck_shown: list[StuckShipment]
    stuck_total: int | None  # None: the stuck list has not been built yet


def read_report_data(connection: duckdb.DuckDBPyConnection) -> ReportData:
    """Read every section's aggregate; timestamps come back in UTC whatever the machine's zone."""
    connection.execute("set TimeZone = 'UTC'")
    tables = {
        name for (name,) in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }

    def rows(table: str, sql: str, row_type: type) -> list[Any]:
        return [row_type(*row) for row in connection.execute(sql).fetchall()] if table in tables else []

    freshness = rows("data_as_of", "select data_as_of, newest_update_at, trackings, built_at from main.data_as_of",
                     Freshness)
    headline = rows("fct_shipments", _HEADLINE, Headline)
    dq_runs = rows("dq_check_results", _DQ_RUNS, DqRun)
    stuck_total = rows("stuck_shipments", "select count(*) from main.stuck_shipments", int)
    return ReportData(
        freshness=freshness[0] if freshness else None,
        headline=headline[0] if headline and headline[0].shipments else None,
        delivery_by_carrier=rows("fct_shipments", _DELIVERY_BY_CARRIER, CarrierDelivery),
        delivery_by_week=rows("delivery_time_by_week", _DELIVERY_BY_WEEK, WeekDelivery),
        exceptions_by_carrier=rows("exception_rate_by_carrier", _EXCEPTIONS_BY_CARRIER, ExceptionRate),
        exceptions_by_destination=rows("exception_rate_by_destination", _EXCEPTIONS_BY_DESTINATION, ExceptionRate),
        api_days=rows("api_health_daily", _API_DAYS, ApiDay),
        api_recent=rows("api_health_daily", _API_RECENT, ApiEndpointDay),
        dq_runs=list(reversed(dq_runs)),
        dq_latest_failures=rows("dq_check_results", _DQ_LATEST_FAILURES, DqFailure),
        scorecard=rows("carrier_scorecard_monthly", _SCORECARD, ScorecardRow),
        on_time_by_month=rows("on_time_by_carrier_month", _ON_TIME_BY_MONTH, OnTimeMonth),
        stuck_shown=rows("stuck_shipments", _STUCK_SHOWN, StuckShipment),
        stuck_total=stuck_total[0] if stuck_total else None,
    )


_HEADLINE = """
select count(*), count(delivery_days), median(delivery_days), count(*) filter (where is_scanned),
       cast(count(*) filter (where is_scanned and is_exception) as double)
           / nullif(count(*) filter (where is_scanned), 0)
from main.fct_shipments
"""

# Percentiles come from fct_shipments because delivery_time_by_carrier stops at p50/p90/p95 and a
# box needs the quartiles too; a carrier with no delivered shipment has no box to draw.
_DELIVERY_BY_CARRIER = f"""
select carrier_code, count(*), count(delivery_days),
       {", ".join(f"quantile_cont(delivery_days, {q})" for q in (0.1, 0.25, 0.5, 0.75, 0.9))}
from main.fct_shipments
group by carrier_code
having count(delivery_days) > 0
order by quantile_cont(delivery_days, 0.5), carrier_code
"""

_DELIVERY_BY_WEEK = """
select week_start, shipments, delivered, p50_delivery_days, p90_delivery_days
from main.delivery_time_by_week
order by week_start
"""

_EXCEPTIONS_BY_CARRIER = """
select carrier_code, scanned_shipments, exception_shipments, exception_rate, ever_exception_shipments,
       ever_exception_rate
from main.exception_rate_by_carrier
order by exception_rate desc, carrier_code
"""

_EXCEPTIONS_BY_DESTINATION = f"""
select coalesce(destination_country, 'unknown'), scanned_shipments, exception_shipments, exception_rate,
       ever_exception_shipments, ever_exception_rate
from (from main.exception_rate_by_destination order by scanned_shipments desc limit {DESTINATIONS_SHOWN})
order by exception_rate desc, 1
"""

# error_share counts every attempt that was neither ok nor empty (429s included), so the errors
# other than 429 are the rest; summed over endpoints to one column per day.
_API_DAYS = f"""
select day, calls, calls - errors, errors - served_429, served_429, retries
from (
    select day, sum(calls) as calls, cast(sum(round(error_share * calls)) as bigint) as errors,
           sum(served_429) as served_429, sum(retries) as retries
    from main.api_health_daily
    group by day
    order by day desc
    limit {API_DAYS_SHOWN}
)
order by day
"""

_API_RECENT = f"""
select day, endpoint, calls, error_share, map_entries(calls_by_code)
from main.api_health_daily
order by day desc, endpoint
limit {API_TABLE_ROWS}
"""

_DQ_RUNS = f"""
select run_id, min(checked_at) as started_at,
       count(*) filter (where passed),
       count(*) filter (where not passed and lower(severity) <> 'error'),
       count(*) filter (where not passed and lower(severity) = 'error')
from main.dq_check_results
group by run_id
order by started_at desc
limit {DQ_RUNS_SHOWN}
"""

_DQ_LATEST_FAILURES = """
select check_name, asset, severity, value
from main.dq_check_results
where not passed
  and run_id = (select run_id from main.dq_check_results order by checked_at desc limit 1)
order by lower(severity) = 'error' desc, asset, check_name
"""

_SCORECARD = f"""
select carrier_code, created_month, shipments, delivered, mean_transit_days, p90_transit_business_days,
       first_attempt_rate, on_time_rate, stuck, stuck_share, never_scanned_rate, expired_rate
from main.carrier_scorecard_monthly
where created_month in (
    select distinct created_month from main.carrier_scorecard_monthly
    order by created_month desc limit {SCORECARD_MONTHS_SHOWN}
)
order by created_month desc, carrier_code
"""

# Months without a promised delivery have no rate to draw (a gap in the line, not a zero).
_ON_TIME_BY_MONTH = f"""
with busiest as (
    select carrier_code from main.on_time_by_carrier_month
    group by carrier_code
    having sum(promised_shipments) > 0
    order by sum(promised_shipments) desc, carrier_code
    limit {ON_TIME_CARRIERS_SHOWN}
)
select carrier_code, delivered_month, promised_shipments, early + on_time, on_time_rate
from main.on_time_by_carrier_month
where carrier_code in (select carrier_code from busiest) and promised_shipments > 0
order by carrier_code, delivered_month
"""

_STUCK_SHOWN = f"""
select tracking_number, carrier_code, status, destination_country, last_checkpoint_at, days_since_last_checkpoint
from main.stuck_shipments
order by days_since_last_checkpoint desc, tracking_id
limit {STUCK_ROWS_SHOWN}
"""
