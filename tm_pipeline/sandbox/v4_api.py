"""The stand-in's v4 list endpoint, `GET /v4/trackings/get` (§10): the same store and ground truth
as v2, in v4's envelope, codes, header, limits and paging.

Each v4 request goes: fault draw (by the server) → route (404) → `Tracking-Api-Key` (401) → 429
burst → per-key limit at `v4_list_rate_per_s` (429) → list. The HTTP status mirrors the class of
the meta code (400 for 4xxx, 500 for 511–513), as v4's SDKs describe. Choices the spec marks
UNCONFIRMED are listed in docs/sandbox.md: paging past the end and an empty match answer 200
with `data: []`; `items_amount` is 1..200 (default 40), a bad paging or filter value is meta 400;
there is no total anywhere in the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import orjson

from .filters import MAX_LOOKUP_VALUES, FilterError, parse_filters
from .listing import parse_positive_int
from .protocol import Reply
from .store import TrackingStore
from .v4_render import v4_tracking

V4_API_KEY_HEADER = "tracking-api-key"
V4_LIST_PATH = "/v4/trackings/get"
V4_MAX_ITEMS = 200
V4_DEFAULT_ITEMS = 40

V4_MESSAGES: dict[int, str] = {
    200: "Request response is successful",
    400: "Request type error or parameter error.",
    401: "Authentication failed or has no permission.",
    403: "Forbidden.",
    404: "Page does not exist.",
    429: "Too Many Requests.",
    4101: "Tracking No. already exists.",
    4102: "Tracking No. does not exist. Please create it first.",
    4103: "The number of shipments exceeds 40 in one call.",
    4110: "The value of tracking_number is invalid.",
    4111: "Tracking number is required.",
    4112: "Invalid Tracking ID.",
    4113: "Retrack is not allowed: only expired trackings can be retracked.",
    4120: "The value of courier_code is invalid.",
    4121: "Cannot detect courier.",
    4122: "Missing or invalid value of the special required fields for this courier.",
    4130: "The format of the field name is invalid.",
    4160: "The awb_number is required or invalid format.",
    4161: "The awb airline does not support yet.",
    4190: "You have reached the plan quota.",
    511: "Server error.",
    512: "Server error.",
    513: "Server error.",
}

# v4 date filter -> the v2 parameter the shared filter parser reads (unix seconds)
_DATE_FILTERS = {
    "created_date_min": "created_at_min",
    "created_date_max": "created_at_max",
    "updated_date_min": "update_time_min",
    "updated_date_max": "update_time_max",
}


def v4_http_status(code: int) -> int:
    if code >= 1000:
        return 400
    if 500 <= code <= 599:
        return 500
    return code


def v4_error(code: int, message: str | None = None) -> Reply:
    """A v4 error: `{"meta":{"code","message"},"data":[]}` with the HTTP status mirroring the code."""
    body = orjson.dumps({"meta": {"code": code, "message": message or V4_MESSAGES.get(code, "")}, "data": []})
    return Reply(code=code, body=body, http_status=v4_http_status(code))


def _v4_page_body(items: list[bytes]) -> bytes:
    meta = orjson.dumps({"code": 200, "message": V4_MESSAGES[200]})
    return b'{"meta":' + meta + b',"data":[' + b",".join(items) + b"]}"


def _unix_seconds(name: str, raw: str) -> str:
    """An ISO-8601 filter value as unix seconds (text), for the shared filter parser."""
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(400, f"{name} must be ISO-8601 with offset, e.g. 2023-08-23T06:00:00+00:00") from None
    if moment.tzinfo is None:
        raise FilterError(400, f"{name} needs an offset, e.g. 2023-08-23T06:00:00+00:00")
    return str(int(moment.timestamp()))


def _v2_query(query: dict[str, str]) -> dict[str, str]:
    """v4 filters in the names and units of the v2 filter parser (one predicate for both versions)."""
    translated: dict[str, str] = {}
    for name, v2_name in _DATE_FILTERS.items():
        raw = query.get(name, "").strip()
        if raw:
            translated[v2_name] = _unix_seconds(name, raw)
    if query.get("delivery_status", "").strip():
        translated["status"] = query["delivery_status"]
    numbers = query.get("tracking_numbers", "")
    if numbers.strip():
        if len([n for n in numbers.split(",") if n.strip()]) > MAX_LOOKUP_VALUES:
            raise FilterError(4103, f"at most {MAX_LOOKUP_VALUES} tracking_numbers per request")
        translated["numbers"] = numbers
    archived = query.get("archived_status", "").strip().lower()
    if archived:
        translated["archived"] = {"true": "true", "tracking": "false"}.get(archived, "")
    return translated


def v4_list(store: TrackingStore, query: dict[str, str], page_cap: Callable[[int], int | None]) -> Reply:
    """One page of trackings in v4 shape, in the v2 list order (newest created first, then id).

    `page_cap(page)` may cut a page short (fault injection: a short or empty page mid-walk).
    """
    page = parse_positive_int(query.get("pages_amount"), 1)
    if page is None:
        return v4_error(400, "pages_amount must be a positive integer")
    limit = parse_positive_int(query.get("items_amount"), V4_DEFAULT_ITEMS)
    if limit is None or limit > V4_MAX_ITEMS:
        return v4_error(400, f"items_amount must be 1..{V4_MAX_ITEMS}")
    try:
        filters = parse_filters(_v2_query(query))
    except FilterError as refused:
        return v4_error(refused.code if refused.code in V4_MESSAGES else 400, str(refused))
    with store.lock:
        ids = store.matching_ids(filters)
        v2_items = store.list_page(ids, page, limit)
    cap = page_cap(page)
    if cap is not None:
        v2_items = v2_items[:cap]
    items = [orjson.dumps(v4_tracking(orjson.loads(item))) for item in v2_items]
    return Reply(code=200, body=_v4_page_body(items), http_status=200)
