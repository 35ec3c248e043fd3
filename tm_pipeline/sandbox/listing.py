"""`GET /v2/trackings/get`: parameter parsing, filters, paging and the list envelope (§3)."""

from __future__ import annotations

from .filters import FilterError, parse_filters
from .protocol import Reply, error, list_page_body
from .store import TrackingStore

MAX_LIMIT = 2000
DEFAULT_LIMIT = 100


def parse_positive_int(raw: str | None, default: int) -> int | None:
    """Query integer where "" and "0" mean "not set" (official samples send both); None if invalid."""
    if raw is None or raw.strip() in ("", "0"):
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        return None
    return value if value > 0 else None


def list_trackings(store: TrackingStore, query: dict[str, str]) -> Reply:
    """One page of the matching trackings, newest `created_at` first, then by `id`.

    Past the last page the answer is a success with `items: []`; when nothing matches at all the
    answer is 4031 (both UNCONFIRMED upstream; see docs/sandbox.md).
    """
    page = parse_positive_int(query.get("page"), 1)
    if page is None:
        return error(4012, "page must be a positive integer")
    limit = parse_positive_int(query.get("limit"), DEFAULT_LIMIT)
    if limit is None or limit > MAX_LIMIT:
        return error(4012, f"limit must be 1..{MAX_LIMIT}")
    try:
        filters = parse_filters(query)
    except FilterError as refused:
        return error(refused.code, str(refused))
    with store.lock:
        ids = store.matching_ids(filters)
        if not ids:
            return error(4031)
        items = store.list_page(ids, page, limit)
        total = len(ids)
    return Reply(code=200, body=list_page_body(page, limit, total, items))
