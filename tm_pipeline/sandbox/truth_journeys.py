"""Ground truth for the journey marts: lead times, first attempts, promises, stuck shipments.

Like truth.py it shares nothing with the SQL: business days are counted by walking the calendar
day by day (the SQL subtracts running working-day numbers), milestones are found by scanning each
shipment's checkpoints in order. The definitions are docs/models.md's, written out once more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .truth import quantile_cont

# The sandbox's own copy of what dbt_project.yml ships with (it reads nothing of the pipeline), so
# /_sandbox/truth matches a default build; a test holds the two equal.
DEFAULT_STUCK_AFTER_DAYS = 5
DEFAULT_AT_RISK_WITHIN_BUSINESS_DAYS = 1
DEFAULT_HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(day)
    for day in (
        "2024-01-01", "2024-01-15", "2024-02-19", "2024-05-27", "2024-06-19", "2024-07-04",
        "2024-09-02", "2024-10-14", "2024-11-11", "2024-11-28", "2024-12-25",
        "2025-01-01", "2025-01-20", "2025-02-17", "2025-05-26", "2025-06-19", "2025-07-04",
        "2025-09-01", "2025-10-13", "2025-11-11", "2025-11-27", "2025-12-25",
    )
)
# (carrier_code, destination_country or "*" for any other, promised transit business days)
DEFAULT_PROMISES: tuple[tuple[str, str, int], ...] = (
    ("ups", "United States", 3), ("ups", "*", 5),
    ("usps", "United States", 5), ("usps", "*", 8),
    ("fedex", "United States", 2), ("fedex", "*", 4),
    ("dhl", "Germany", 2), ("dhl", "*", 4),
    ("royal-mail", "United Kingdom", 3), ("royal-mail", "*", 6),
    ("china-post", "*", 12),
    ("china-ems", "*", 9),
    ("4px", "*", 7),
)
LEGS = ("pickup", "transit", "last_mile")


@dataclass(frozen=True)
class JourneyCheckpoint:
    """One scan as the courier wrote it: naive local wall time and its status fields."""

    local_time: datetime
    status: str
    substatus: str | None
    item_node: str | None


@dataclass(frozen=True)
class JourneyFacts:
    """What the journey metrics need of one tracking. UTC times are naive datetimes in UTC."""

    tracking_id: str
    tracking_number: str
    carrier_code: str
    status: str
    original_country: str | None
    destination_country: str | None
    created_at_utc: datetime
    updated_at_utc: datetime | None
    checkpoints: tuple[JourneyCheckpoint, ...]


def business_days_between(start: date, end: date, holidays: Collection[date]) -> int:
    """Working days d with start < d <= end (negative when end is before start)."""
    if end < start:
        return -business_days_between(end, start, holidays)
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        if day.weekday() < 5 and day not in holidays:
            count += 1
        day += timedelta(days=1)
    return count


def _days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 86400


def _first(checkpoints: list[JourneyCheckpoint], wanted: Callable[[JourneyCheckpoint], bool]) -> datetime | None:
    times = [cp.local_time for cp in checkpoints if wanted(cp)]
    return min(times) if times else None


def _delivery_attempt(
    checkpoints: list[JourneyCheckpoint], out_for_delivery_at: datetime | None, delivered_at: datetime
) -> str:
    """How a delivered shipment got there, judged on scans from the first out-for-delivery on."""
    between = [
        cp
        for cp in checkpoints
        if out_for_delivery_at is not None and out_for_delivery_at <= cp.local_time < delivered_at
    ]
    if any(cp.status == "undelivered" for cp in between):
        return "after_failed_attempt"
    if any(cp.substatus == "pickup002" for cp in between):
        return "after_pickup_point_notice"
    if any(cp.status == "exception" for cp in between):
        return "after_exception"
    return "first_attempt"


def promised_days(promises: Iterable[tuple[str, str, int]], carrier: str, destination: str | None) -> int | None:
    """The carrier's rule for the destination, else its "*" rule, else None."""
    rules = {(rule_carrier, rule_destination): days for rule_carrier, rule_destination, days in promises}
    exact = rules.get((carrier, destination)) if destination else None
    return exact if exact is not None else rules.get((carrier, "*"))


def _promise_status(transit_business_days: object, promised: int | None) -> str | None:
    if promised is None or not isinstance(transit_business_days, int):
        return None
    if transit_business_days < promised:
        return "early"
    return "on_time" if transit_business_days == promised else "late"


def _active_promise_status(days_left: int | None, at_risk_within: int) -> str | None:
    if days_left is None:
        return None
    if days_left < 0:
        return "overdue"
    return "at_risk" if days_left <= at_risk_within else "on_track"


def journey_row(
    facts: JourneyFacts,
    as_of_utc: datetime | None,
    holidays: Collection[date],
    stuck_after_days: int,
    promises: Iterable[tuple[str, str, int]] = DEFAULT_PROMISES,
    at_risk_within_business_days: int = DEFAULT_AT_RISK_WITHIN_BUSINESS_DAYS,
) -> dict[str, object]:
    """One `fct_shipment_journeys` row."""
    status = facts.status.strip().lower()
    checkpoints = [
        JourneyCheckpoint(
            cp.local_time,
            cp.status.strip().lower(),
            cp.substatus.strip().lower() if cp.substatus else None,
            cp.item_node,
        )
        for cp in facts.checkpoints
    ]
    first_scan_at = _first(checkpoints, lambda cp: True)
    last_checkpoint_at = max((cp.local_time for cp in checkpoints), default=None)
    received_at = _first(checkpoints, lambda cp: cp.item_node == "ItemReceived")
    out_for_delivery_at = _first(checkpoints, lambda cp: cp.status == "pickup")
    delivered_at = _first(checkpoints, lambda cp: cp.status == "delivered")
    delivered = status == "delivered"

    def lead(start: datetime | None, end: datetime | None, only_delivered: bool) -> tuple[object, object]:
        if start is None or end is None or (only_delivered and not delivered):
            return None, None
        return _days(end, start), business_days_between(start.date(), end.date(), holidays)

    pickup = lead(facts.created_at_utc, received_at, only_delivered=False)
    transit = lead(first_scan_at, delivered_at, only_delivered=True)
    last_mile = lead(out_for_delivery_at, delivered_at, only_delivered=True)
    promised = promised_days(promises, facts.carrier_code, facts.destination_country or None)
    active = status not in ("delivered", "expired")
    # An active shipment's promise runs from its first scan, like a delivered one's verdict, to the
    # as-of time: what is left of it is the promise minus the business days already spent.
    days_left = (
        promised - business_days_between(first_scan_at.date(), as_of_utc.date(), holidays)
        if active and promised is not None and first_scan_at is not None and as_of_utc is not None
        else None
    )
    silence = (
        _days(as_of_utc, last_checkpoint_at)
        if active and as_of_utc is not None and last_checkpoint_at is not None
        else None
    )
    return {
        "tracking_id": facts.tracking_id,
        "tracking_number": facts.tracking_number,
        "carrier_code": facts.carrier_code,
        "status": status,
        "original_country": facts.original_country or None,
        "destination_country": facts.destination_country or None,
        "created_at_utc": facts.created_at_utc,
        "received_at": received_at,
        "first_scan_at": first_scan_at,
        "first_out_for_delivery_at": out_for_delivery_at,
        "delivered_at": delivered_at,
        "last_checkpoint_at": last_checkpoint_at,
        "pickup_days": pickup[0],
        "pickup_business_days": pickup[1],
        "transit_days": transit[0],
        "transit_business_days": transit[1],
        "last_mile_days": last_mile[0],
        "last_mile_business_days": last_mile[1],
        "delivery_attempt": _delivery_attempt(checkpoints, out_for_delivery_at, delivered_at)
        if delivered and delivered_at is not None
        else None,
        "delivered_month": delivered_at.date().replace(day=1) if delivered and delivered_at else None,
        "promised_business_days": promised,
        "delivery_promise_status": _promise_status(transit[1], promised) if delivered else None,
        "promise_business_days_left": days_left,
        "active_promise_status": _active_promise_status(days_left, at_risk_within_business_days),
        "is_active": active,
        "days_since_last_checkpoint": silence,
        "is_stuck": silence is not None and silence >= stuck_after_days,
        "is_never_scanned": not checkpoints,
        "data_as_of": as_of_utc if active else None,  # only an active row depends on the clock
    }


def _day_count(value: object) -> float:
    """A day count of a journey row (None is filtered out before): int or float."""
    if not isinstance(value, (int, float)):
        raise TypeError(f"expected a number of days, got {value!r}")
    return float(value)


def _sorted_groups(rows: Iterable[dict[str, object]], columns: tuple[str, ...]) -> list[tuple[tuple, list]]:
    groups: dict[tuple, list] = defaultdict(list)
    for row in rows:
        groups[tuple(row[column] for column in columns)].append(row)
    return sorted(groups.items(), key=lambda item: tuple((value is None, value) for value in item[0]))


def _lead_time_stats(rows: list[dict[str, object]]) -> dict[str, object]:
    stats: dict[str, object] = {"shipments": len(rows)}
    for leg in LEGS:
        days = sorted(_day_count(row[f"{leg}_days"]) for row in rows if row[f"{leg}_days"] is not None)
        business = sorted(
            _day_count(row[f"{leg}_business_days"]) for row in rows if row[f"{leg}_business_days"] is not None
        )
        stats[f"{leg}_measured"] = len(days)
        stats[f"mean_{leg}_days"] = sum(days) / len(days) if days else None
        stats[f"p50_{leg}_days"] = quantile_cont(days, 0.5)
        stats[f"p90_{leg}_days"] = quantile_cont(days, 0.9)
        stats[f"mean_{leg}_business_days"] = sum(business) / len(business) if business else None
        stats[f"p50_{leg}_business_days"] = quantile_cont(business, 0.5)
        stats[f"p90_{leg}_business_days"] = quantile_cont(business, 0.9)
    return stats


def _first_attempt_stats(rows: list[dict[str, object]]) -> dict[str, object]:
    outcomes = [row["delivery_attempt"] for row in rows]
    first = outcomes.count("first_attempt")
    return {
        "delivered_shipments": len(rows),
        "first_attempt_deliveries": first,
        "after_failed_attempt": outcomes.count("after_failed_attempt"),
        "after_pickup_point_notice": outcomes.count("after_pickup_point_notice"),
        "after_exception": outcomes.count("after_exception"),
        "first_attempt_rate": first / len(rows),
    }


def _stuck_stats(rows: list[dict[str, object]]) -> dict[str, object]:
    stuck = sum(1 for row in rows if row["is_stuck"])
    return {
        "active_shipments": len(rows),
        "stuck_shipments": stuck,
        "stuck_share": stuck / len(rows),
        "max_days_since_last_checkpoint": max(_day_count(row["days_since_last_checkpoint"]) for row in rows),
    }


def _coverage_stats(rows: list[dict[str, object]]) -> dict[str, object]:
    never = sum(1 for row in rows if row["is_never_scanned"])
    expired = sum(1 for row in rows if row["status"] == "expired")
    return {
        "shipments": len(rows),
        "never_scanned": never,
        "never_scanned_rate": never / len(rows),
        "expired": expired,
        "expired_rate": expired / len(rows),
    }


def _on_time_stats(rows: list[dict[str, object]]) -> dict[str, object]:
    verdicts = [row["delivery_promise_status"] for row in rows if row["delivery_promise_status"] is not None]
    kept = verdicts.count("early") + verdicts.count("on_time")
    return {
        "delivered_shipments": len(rows),
        "promised_shipments": len(verdicts),
        "early": verdicts.count("early"),
        "on_time": verdicts.count("on_time"),
        "late": verdicts.count("late"),
        "on_time_rate": kept / len(verdicts) if verdicts else None,
    }


def _promise_group_stats(rows: list[dict[str, object]], carrier_judged: dict[object, int]) -> dict[str, object]:
    return {
        "active_shipments": len(rows),
        "share_of_carrier": len(rows) / carrier_judged[rows[0]["carrier_code"]],
    }


def _share(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def _scorecard_stats(rows: list[dict[str, object]]) -> dict[str, object]:
    delivered = [row for row in rows if row["transit_days"] is not None]
    transit_business = sorted(_day_count(row["transit_business_days"]) for row in delivered)
    last_mile = [_day_count(row["last_mile_days"]) for row in rows if row["last_mile_days"] is not None]
    attempts = [row["delivery_attempt"] for row in rows if row["delivery_attempt"] is not None]
    verdicts = [row["delivery_promise_status"] for row in rows if row["delivery_promise_status"] is not None]
    stuck = sum(1 for row in rows if row["is_stuck"])
    active_scanned = sum(1 for row in rows if row["is_active"] and not row["is_never_scanned"])
    return {
        "shipments": len(rows),
        "delivered": len(delivered),
        "mean_transit_days": _share(sum(_day_count(row["transit_days"]) for row in delivered), len(delivered)),
        "p50_transit_business_days": quantile_cont(transit_business, 0.5),
        "p90_transit_business_days": quantile_cont(transit_business, 0.9),
        "mean_last_mile_days": _share(sum(last_mile), len(last_mile)),
        "first_attempt_rate": _share(attempts.count("first_attempt"), len(attempts)),
        "on_time_rate": _share(verdicts.count("early") + verdicts.count("on_time"), len(verdicts)),
        "late": verdicts.count("late"),
        "stuck": stuck,
        "stuck_share": _share(stuck, active_scanned),
        "never_scanned_rate": sum(1 for row in rows if row["is_never_scanned"]) / len(rows),
        "expired_rate": sum(1 for row in rows if row["status"] == "expired") / len(rows),
    }


_STUCK_LIST_COLUMNS = (
    "tracking_id", "tracking_number", "carrier_code", "status", "original_country",
    "destination_country", "last_checkpoint_at", "days_since_last_checkpoint", "data_as_of",
)


def expected_journey_metrics(
    facts: Iterable[JourneyFacts],
    holidays: Collection[date] = DEFAULT_HOLIDAYS,
    stuck_after_days: int = DEFAULT_STUCK_AFTER_DAYS,
    promises: Iterable[tuple[str, str, int]] = DEFAULT_PROMISES,
    at_risk_within_business_days: int = DEFAULT_AT_RISK_WITHIN_BUSINESS_DAYS,
) -> dict[str, list[dict[str, object]]]:
    """Every journey mart, keyed by table name. The as-of time is the newest updated_at of all."""
    facts = list(facts)
    holidays = frozenset(holidays)
    promises = tuple(promises)
    as_of_utc = max((f.updated_at_utc for f in facts if f.updated_at_utc is not None), default=None)
    rows = sorted(
        (
            journey_row(f, as_of_utc, holidays, stuck_after_days, promises, at_risk_within_business_days)
            for f in facts
        ),
        key=lambda row: str(row["tracking_id"]),
    )
    for row in rows:
        created = row["created_at_utc"]
        row["created_month"] = created.date().replace(day=1) if isinstance(created, datetime) else None

    def table(
        members: list[dict[str, object]],
        columns: tuple[str, ...],
        metrics: Callable[[list[dict[str, object]]], dict[str, object]],
    ) -> list[dict[str, object]]:
        return [
            {**dict(zip(columns, group, strict=True)), **metrics(group_rows)}
            for group, group_rows in _sorted_groups(members, columns)
        ]

    delivered = [row for row in rows if row["delivered_month"] is not None]
    active_scanned = [row for row in rows if row["is_active"] and not row["is_never_scanned"]]
    judged = [row for row in rows if row["active_promise_status"] is not None]
    judged_per_carrier: dict[object, int] = defaultdict(int)
    for row in judged:
        judged_per_carrier[row["carrier_code"]] += 1
    return {
        "fct_shipment_journeys": [{k: v for k, v in row.items() if k != "created_month"} for row in rows],
        "lead_time_by_carrier": table(rows, ("carrier_code",), _lead_time_stats),
        "lead_time_by_lane": table(
            rows, ("carrier_code", "original_country", "destination_country"), _lead_time_stats
        ),
        "first_attempt_by_carrier_month": table(delivered, ("carrier_code", "delivered_month"), _first_attempt_stats),
        "stuck_shipments": [
            {column: row[column] for column in _STUCK_LIST_COLUMNS} for row in rows if row["is_stuck"]
        ],
        "stuck_share_by_carrier_status": table(active_scanned, ("carrier_code", "status"), _stuck_stats),
        "scan_coverage_by_carrier": table(rows, ("carrier_code",), _coverage_stats),
        "on_time_by_carrier_month": table(delivered, ("carrier_code", "delivered_month"), _on_time_stats),
        "carrier_scorecard_monthly": table(rows, ("carrier_code", "created_month"), _scorecard_stats),
        "active_promise_status_by_carrier": table(
            judged,
            ("carrier_code", "active_promise_status"),
            lambda group: _promise_group_stats(group, judged_per_carrier),
        ),
    }
