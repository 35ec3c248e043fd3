"""The TrackingMore v2 `meta.code` seed table and what the pipeline does about each code.

The table is data, not branching logic spread over the client: the ledger records every code,
the checks judge them by category, and the extractor acts on `action`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from tm_pipeline.contracts.outcomes import Category

__all__ = ["SEED_TABLE", "Action", "Category", "StatusCode", "classify"]


class Action(str, Enum):
    """What the extractor does when a call ends with a code."""

    ACCEPT = "accept"
    TREAT_AS_EMPTY = "treat_as_empty"
    PAUSE_THEN_RETRY = "pause_then_retry"
    RETRY_WITH_BACKOFF = "retry_with_backoff"
    STOP = "stop"


@dataclass(frozen=True)
class StatusCode:
    code: int
    type: str  # v2's meta.type; "" for versions without one
    meaning: str
    category: Category
    action: Action
    what_to_do: str = ""


_AUTH_HINT = (
    "Check TRACKINGMORE_API_KEY: copy the key again from the TrackingMore console "
    "(Developer > API key) and make sure it was not deleted or disabled."
)
_BILLING_HINT = "Top up the TrackingMore balance or upgrade the plan, then run again."
_REQUEST_HINT = "This is a bug in the request the pipeline sent; report it with the ledger row."

SEED_TABLE: dict[int, StatusCode] = {
    s.code: s
    for s in (
        StatusCode(200, "Success", "ok", Category.OK, Action.ACCEPT),
        StatusCode(201, "Created", "ok, resource created", Category.OK, Action.ACCEPT),
        StatusCode(202, "Bad Request", "accepted but over a limit", Category.REQUEST, Action.STOP, _REQUEST_HINT),
        StatusCode(401, "Unauthorized", "authentication failed", Category.AUTH, Action.STOP, _AUTH_HINT),
        StatusCode(4001, "Unauthorized", "API key invalid", Category.AUTH, Action.STOP, _AUTH_HINT),
        StatusCode(4002, "Unauthorized", "API key deleted", Category.AUTH, Action.STOP, _AUTH_HINT),
        StatusCode(4012, "Bad Request", "unparsable request or parameter missing", Category.REQUEST,
                   Action.STOP, _REQUEST_HINT),
        StatusCode(4013, "Bad Request", "tracking_number missing", Category.REQUEST, Action.STOP, _REQUEST_HINT),
        StatusCode(4014, "Bad Request", "tracking_number invalid", Category.REQUEST, Action.STOP, _REQUEST_HINT),
        StatusCode(4015, "Bad Request", "carrier_code invalid", Category.REQUEST, Action.STOP, _REQUEST_HINT),
        StatusCode(4016, "Bad Request", "tracking already exists", Category.REQUEST, Action.STOP, _REQUEST_HINT),
        StatusCode(4017, "Bad Request", "tracking does not exist", Category.REQUEST, Action.STOP, _REQUEST_HINT),
        StatusCode(4018, "Bad Request", "feature needs activation", Category.REQUEST, Action.STOP,
                   "Ask TrackingMore support to activate this feature for the account."),
        StatusCode(4019, "Bad Request", "balance insufficient", Category.BILLING, Action.STOP, _BILLING_HINT),
        StatusCode(4020, "Bad Request", "too many items in one call", Category.REQUEST, Action.STOP, _REQUEST_HINT),
        StatusCode(4021, "Bad Request", "quota exhausted or trial over", Category.BILLING, Action.STOP,
                   _BILLING_HINT),
        StatusCode(4031, "No Content", "ok but nothing to return", Category.EMPTY, Action.TREAT_AS_EMPTY),
        StatusCode(4032, "No Content", "courier could not be detected", Category.DETECTION, Action.STOP,
                   "Pass carrier_code explicitly for this tracking number."),
        StatusCode(4033, "No Content", "package status value invalid", Category.REQUEST, Action.STOP,
                   "Use one of: pending, notfound, transit, pickup, delivered, undelivered, exception, expired."),
        StatusCode(402, "Payment Required", "payment required", Category.BILLING, Action.STOP, _BILLING_HINT),
        StatusCode(403, "Forbidden", "access denied", Category.AUTH, Action.STOP, _AUTH_HINT),
        StatusCode(404, "Not Found", "resource not found", Category.REQUEST, Action.STOP,
                   "Check TRACKINGMORE_BASE_URL: it must end in /v2."),
        StatusCode(405, "Method Not Allowed", "wrong method", Category.REQUEST, Action.STOP, _REQUEST_HINT),
        StatusCode(409, "Conflict", "conflict", Category.TRANSIENT, Action.RETRY_WITH_BACKOFF),
        StatusCode(429, "Too Many Requests", "over the API limit", Category.RATE_LIMITED,
                   Action.PAUSE_THEN_RETRY),
        StatusCode(500, "Server error", "server error", Category.TRANSIENT, Action.RETRY_WITH_BACKOFF),
        StatusCode(503, "Service Unavailable", "temporarily unavailable", Category.TRANSIENT,
                   Action.RETRY_WITH_BACKOFF),
    )
}


def classify(code: int, table: Mapping[int, StatusCode] | None = None) -> StatusCode:
    """The entry for a code in `table` (the v2 seed table by default); unknown 5xx are transient,
    other unknown codes stop the run."""
    known = (SEED_TABLE if table is None else table).get(code)
    if known is not None:
        return known
    if 500 <= code <= 599:
        return StatusCode(code, "Server error", "server error", Category.TRANSIENT, Action.RETRY_WITH_BACKOFF)
    return StatusCode(code, "Unknown", "code not in the seed table", Category.REQUEST, Action.STOP,
                      "An undocumented code: check the ledger row and TrackingMore's status page.")
