"""The §3.1 filters of `GET /v2/trackings/get`, parsed once into a predicate over shipments.

Official samples send every parameter, some as `""` or `0`, so both mean "not set". Bounds are
unix seconds; a bound on `updated_at` or `order_create_time` excludes trackings that have none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .shipment import Shipment

V2_STATUSES = ("pending", "notfound", "transit", "pickup", "delivered", "undelivered", "exception", "expired")
MAX_LOOKUP_VALUES = 40

_ORDER_TIME_RE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


class FilterError(ValueError):
    """A filter value the API refuses; carries the meta code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ListFilters:
    """Normalised filters; hashable so a filtered id list can be cached per store version."""

    status: str | None = None
    created_min: int | None = None
    created_max: int | None = None
    updated_min: int | None = None
    updated_max: int | None = None
    order_created_min: int | None = None
    order_created_max: int | None = None
    numbers: frozenset[str] | None = None
    orders: frozenset[str] | None = None
    archived: bool | None = None

    @property
    def active(self) -> bool:
        return self != ListFilters()


def _unix_seconds(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name, "").strip()
    if raw in ("", "0"):
        return None
    try:
        return int(raw)
    except ValueError:
        raise FilterError(4012, f"{name} must be unix seconds") from None


def _lookup_values(query: dict[str, str], name: str) -> frozenset[str] | None:
    values = [value.strip() for value in query.get(name, "").split(",") if value.strip()]
    if not values:
        return None
    if len(values) > MAX_LOOKUP_VALUES:
        raise FilterError(4020, f"at most {MAX_LOOKUP_VALUES} {name} per request")
    return frozenset(values)


def parse_filters(query: dict[str, str]) -> ListFilters:
    """Validate the query; unknown parameters (e.g. `lang`) are accepted and ignored."""
    status = query.get("status", "").strip().lower() or None
    if status is not None and status not in V2_STATUSES:
        raise FilterError(4033, f"status must be one of {', '.join(V2_STATUSES)}")
    archived_raw = query.get("archived", "").strip().lower()
    return ListFilters(
        status=status,
        created_min=_unix_seconds(query, "created_at_min"),
        created_max=_unix_seconds(query, "created_at_max"),
        updated_min=_unix_seconds(query, "update_time_min"),
        updated_max=_unix_seconds(query, "update_time_max"),
        order_created_min=_unix_seconds(query, "order_created_time_min"),
        order_created_max=_unix_seconds(query, "order_created_time_max"),
        numbers=_lookup_values(query, "numbers"),
        orders=_lookup_values(query, "orders"),
        archived={"true": True, "false": False}.get(archived_raw),
    )


def order_created_ts(text: object, account_offset_h: int) -> int | None:
    """`order_create_time` is free text (`2018-05-20 12:00`, `2017/8/27 16:51`), read in account time."""
    if not isinstance(text, str):
        return None
    match = _ORDER_TIME_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    zone = timezone(timedelta(hours=account_offset_h))
    try:
        return int(datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp())
    except ValueError:
        return None


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def predicate(filters: ListFilters, account_offset_h: int) -> Callable[[Shipment], bool]:
    """A test that says whether a shipment matches every set filter."""

    def matches(shipment: Shipment) -> bool:
        if filters.status is not None and shipment.status != filters.status:
            return False
        if filters.archived is not None and shipment.archived != filters.archived:
            return False
        if filters.numbers is not None and shipment.tracking_number not in filters.numbers:
            return False
        if filters.orders is not None and shipment.extras.get("order_id") not in filters.orders:
            return False
        if not _within(shipment.created_ts, filters.created_min, filters.created_max):
            return False
        if not _within(shipment.updated_ts, filters.updated_min, filters.updated_max):
            return False
        if filters.order_created_min is not None or filters.order_created_max is not None:
            ordered = order_created_ts(shipment.extras.get("order_create_time"), account_offset_h)
            return _within(ordered, filters.order_created_min, filters.order_created_max)
        return True

    return matches
