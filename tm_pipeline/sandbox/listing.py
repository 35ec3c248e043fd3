"""`GET /v2/trackings/get`: parameter parsing, filters, paging and the list envelope (§3)."""

from __future__ import annotations

from collections.abc import Callable

from .faults import FaultConfig
from .filters import FilterError, parse_filters
from .malformed import MUTATIONS
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


def _no_record(event: str) -> None:
    return None


def list_trackings(
    store: TrackingStore,
    query: dict[str, str],
    lies: FaultConfig | None = None,
    record: Callable[[str], None] = _no_record,
) -> Reply:
    """One page of the matching trackings, newest `created_at` first, then by `id`.

    Past the last page the answer is a success with `items: []`; when nothing matches at all the
    answer is 4031 (both UNCONFIRMED upstream; see docs/sandbox.md). `lies` may misreport `total`
    and mutate chosen items; `record` is told each lie served ("total_misreported",
    "malformed_<mutation>"), for stats.
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
        if lies is not None and lies.malformed_items:
            items = _malform(store, ids[(page - 1) * limit : (page - 1) * limit + len(items)], items, lies, record)
    reported_total = total if lies is None else lies.reported_total(total)
    if reported_total != total and items:
        record("total_misreported")
    return Reply(code=200, body=list_page_body(page, limit, reported_total, items))


def _malform(
    store: TrackingStore, page_ids: list[str], items: list[bytes], lies: FaultConfig, record: Callable[[str], None]
) -> list[bytes]:
    """The page's items with the configured mutations applied to the trackings they name."""
    by_id = {
        store.order[int(position)]: mutation
        for position, mutation in lies.malformed_items.items()
        if int(position) < len(store.order)
    }
    mutated = list(items)
    for index, tracking_id in enumerate(page_ids):
        mutation = by_id.get(tracking_id)
        if mutation is not None:
            mutated[index] = MUTATIONS[mutation](items[index])
            record(f"malformed_{mutation}")
    return mutated
