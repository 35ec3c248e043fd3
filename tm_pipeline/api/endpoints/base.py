"""What the page loop needs to know about one list endpoint, as one value: the seam between an
API version and the extraction.

The page loop (extract/fetch.py, extract/run.py), the lake, the load and the checks speak only
in the terms below; a version of the API is one `ListEndpoint` that renders them into its own
query, reads its own envelope and judges its own codes. Adding a version is a new module here.

Window filters and the frozen query are kept in manifests as *abstract parameters*: instants in
unix seconds under the names below. The names are v2's spelling on purpose: manifests written
before the seam (which stored the v2 query itself) resume and repair unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import msgspec

from tm_pipeline.api.envelope import ListPage
from tm_pipeline.api.status_codes import StatusCode, classify

# Abstract query parameters (what windows and manifests hold); an endpoint renders them.
PAGE = "page"  # 1-based page number
LIMIT = "limit"  # rows per page
CREATED_SINCE = "created_at_min"  # unix seconds, inclusive
CREATED_UNTIL = "created_at_max"  # unix seconds, inclusive; frozen when an extraction starts
UPDATED_SINCE = "update_time_min"  # unix seconds, inclusive
UPDATED_UNTIL = "update_time_max"  # unix seconds, inclusive
STATUS = "status"  # package status, e.g. "delivered"
INSTANT_PARAMS = (CREATED_SINCE, CREATED_UNTIL, UPDATED_SINCE, UPDATED_UNTIL)


@dataclass(frozen=True)
class ItemFields:
    """Where each typed landing column is found in one list item: the item's JSON key per column.

    The landing keeps the item's original JSON besides; these keys only say which values become
    the typed columns the models read, so the same columns hold the same facts for any version.
    """

    tracking_id: str
    tracking_number: str
    carrier_code: str
    status: str
    substatus: str
    original_country: str
    destination_country: str
    created_at: str
    updated_at: str
    archived: str
    order_id: str

    def as_dict(self) -> dict[str, str]:
        """landing column -> JSON key."""
        return asdict(self)


@dataclass(frozen=True)
class CheckpointFields:
    """The keys of one checkpoint in `origin_info.trackinfo[]` / `destination_info.trackinfo[]`,
    per raw.checkpoints column; None where the version has no such key.

    `milestone_dates` is for versions that date milestones on the leg instead of naming them on
    the checkpoint: (item_node value, JSON path under the leg); a checkpoint without an item node
    whose date equals that milestone's date gets the node.
    """

    checkpoint_date: str
    checkpoint_status: str
    substatus: str
    status_description: str
    details: str | None
    item_node: str | None
    milestone_dates: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ListEndpoint:
    """One list endpoint of one API version: request, envelope, codes, page shape and paging.

    `render_query` turns abstract parameters (see the names above) into the query sent;
    `decoder` decodes a body in one pass into something with `.meta` (code, message, type) and
    `.data`; `page_of` turns a successful `.data` into the loop's `ListPage` (items as the exact
    bytes sent, `total` when the version reports one). Paging always ends on a short or empty
    page; `reports_total` says whether a missing `total` is drift worth recording.
    """

    version: str
    path: str
    auth_header: str
    decoder: msgspec.json.Decoder[Any]
    page_of: Callable[[Any], ListPage | None]
    render_query: Callable[[Mapping[str, Any]], dict[str, Any]]
    code_table: Mapping[int, StatusCode]
    default_rate_per_s: float
    default_page_limit: int
    max_page_limit: int
    reports_total: bool
    item_fields: ItemFields
    checkpoint_fields: CheckpointFields
    base_url_hint: str  # the production base URL, for error messages

    def classify(self, code: int) -> StatusCode:
        """This version's table entry for a code (unknown 5xx transient, other unknown codes stop)."""
        return classify(code, self.code_table)
