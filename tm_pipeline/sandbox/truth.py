"""Ground-truth marts computed in plain Python from the sandbox's own state.

This is the independent witness the pipeline's DuckDB models are checked against, so it shares
nothing with them: no SQL, no JSON parsing, just the definitions written out once more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

EXCEPTION_STATUSES = frozenset({"exception", "undelivered", "expired"})


@dataclass(frozen=True)
class ShipmentFacts:
    """What the metrics need of one tracking as currently served.

    `checkpoints` holds (Date as written, naive; checkpoint_status as written) over both legs.
    Countries are as served (None when the key is absent); "" counts as None in every group.
    """

    tracking_id: str
    carrier_code: str
    status: str
    original_country: str | None
    destination_country: str | None
    checkpoints: tuple[tuple[datetime, str], ...]


def quantile_cont(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear interpolation at pos=(n-1)*q, as numpy's default and DuckDB's quantile_cont."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    fraction = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * fraction


def shipment_row(facts: ShipmentFacts) -> dict[str, object]:
    """One `fct_shipments` row, following the metric definitions literally."""
    status = facts.status.strip().lower()
    dates = [when for when, _ in facts.checkpoints]
    delivered = [when for when, cp_status in facts.checkpoints if cp_status.lower() == "delivered"]
    first_scan_at = min(dates) if dates else None
    delivered_at = min(delivered) if delivered else None
    delivery_days = None
    if status == "delivered" and first_scan_at is not None and delivered_at is not None:
        delivery_days = (delivered_at - first_scan_at).total_seconds() / 86400
    return {
        "tracking_id": facts.tracking_id,
        "carrier_code": facts.carrier_code,
        "status": status,
        "original_country": facts.original_country or None,
        "destination_country": facts.destination_country or None,
        "first_scan_at": first_scan_at,
        "delivered_at": delivered_at,
        "delivery_days": delivery_days,
        "is_exception": status in EXCEPTION_STATUSES,
        "ever_exception": any(cp_status.lower() == "exception" for _, cp_status in facts.checkpoints),
        "scanned": bool(dates),
    }


def week_start(moment: datetime) -> date:
    """Monday of the ISO week `moment` falls in."""
    return moment.date() - timedelta(days=moment.weekday())


def _sort_key(group: tuple[object, ...]) -> tuple[tuple[bool, object], ...]:
    """Ascending with None last, like DuckDB's default ORDER BY."""
    return tuple((value is None, value) for value in group)


def _grouped(
    rows: Iterable[dict[str, object]],
    key: Callable[[dict[str, object]], tuple[object, ...]],
) -> list[tuple[tuple[object, ...], list[dict[str, object]]]]:
    groups: dict[tuple[object, ...], list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return sorted(groups.items(), key=lambda item: _sort_key(item[0]))


def _delivery_metrics(rows: list[dict[str, object]]) -> dict[str, object]:
    days = sorted(days_ for row in rows if isinstance(days_ := row["delivery_days"], float))
    return {
        "shipments": len(rows),
        "delivered": len(days),
        "mean_delivery_days": sum(days) / len(days) if days else None,
        "p50_delivery_days": quantile_cont(days, 0.5),
        "p90_delivery_days": quantile_cont(days, 0.9),
        "p95_delivery_days": quantile_cont(days, 0.95),
    }


def _exception_metrics(rows: list[dict[str, object]]) -> dict[str, object]:
    scanned = [row for row in rows if row["scanned"]]
    exceptions = sum(1 for row in scanned if row["is_exception"])
    ever = sum(1 for row in scanned if row["ever_exception"])
    return {
        "scanned_shipments": len(scanned),
        "exception_shipments": exceptions,
        "exception_rate": exceptions / len(scanned),
        "ever_exception_shipments": ever,
        "ever_exception_rate": ever / len(scanned),
    }


def _table(
    rows: list[dict[str, object]],
    columns: tuple[str, ...],
    metrics: Callable[[list[dict[str, object]]], dict[str, object]],
) -> list[dict[str, object]]:
    return [
        {**dict(zip(columns, group, strict=True)), **metrics(members)}
        for group, members in _grouped(rows, lambda row: tuple(row[column] for column in columns))
    ]


def expected_metrics(facts: Iterable[ShipmentFacts]) -> dict[str, list[dict[str, object]]]:
    """Every ground-truth mart, keyed by table name, rows sorted by their group columns."""
    full_rows = [shipment_row(f) for f in facts]
    full_rows.sort(key=lambda row: str(row["tracking_id"]))
    for row in full_rows:
        first_scan_at = row["first_scan_at"]
        row["week_start"] = week_start(first_scan_at) if isinstance(first_scan_at, datetime) else None
    scanned = [row for row in full_rows if row["scanned"]]
    with_scan = [row for row in full_rows if row["week_start"] is not None]
    return {
        "fct_shipments": [
            {key: value for key, value in row.items() if key not in ("scanned", "week_start")}
            for row in full_rows
        ],
        "delivery_time_by_carrier": _table(full_rows, ("carrier_code",), _delivery_metrics),
        "delivery_time_by_lane": _table(
            full_rows, ("original_country", "destination_country"), _delivery_metrics
        ),
        "delivery_time_by_week": _table(with_scan, ("week_start",), _delivery_metrics),
        "exception_rate_by_carrier": _table(scanned, ("carrier_code",), _exception_metrics),
        "exception_rate_by_destination": _table(scanned, ("destination_country",), _exception_metrics),
        "exception_rate_by_week": _table(scanned, ("week_start",), _exception_metrics),
    }
