"""TrackingMore v4 `GET /v4/trackings/get` as a ListEndpoint (TrackingMore v4 API reference).

What differs from v2, and where it is handled:
- the key travels in `Tracking-Api-Key`; the envelope has no `meta.type`; codes are §10.5's
  (`v4_codes.py`);
- `data` is a bare JSON array of trackings with no page or total fields (pagination metadata is
  UNCONFIRMED upstream), so the walk ends on a short or empty page and never reads a total;
- paging is `pages_amount` (page number) and `items_amount` (page size, maximum UNCONFIRMED:
  100 is the lower of the two published caps); date filters are ISO-8601 with offset;
- item keys differ (`courier_code`, `delivery_status`, `update_at`, `origin_country`,
  `archived` as "true"/"tracking"): `V4_ITEM_FIELDS` maps them to the landing columns, and
  `V4_CHECKPOINT_FIELDS` the checkpoint keys to raw.checkpoints.

`V4_ITEM_FIELDS` is the one place v4 item keys are named; a v4 push (webhook) lands through
`extract.page_table.items_to_table(..., item_fields=V4_ITEM_FIELDS)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import msgspec

from tm_pipeline.api.endpoints.base import (
    CREATED_SINCE,
    CREATED_UNTIL,
    INSTANT_PARAMS,
    LIMIT,
    PAGE,
    STATUS,
    UPDATED_SINCE,
    UPDATED_UNTIL,
    CheckpointFields,
    ItemFields,
    ListEndpoint,
)
from tm_pipeline.api.endpoints.v4_codes import V4_CODE_TABLE
from tm_pipeline.api.envelope import ListPage, Meta

V4_ITEM_FIELDS = ItemFields(
    tracking_id="id",
    tracking_number="tracking_number",
    carrier_code="courier_code",
    status="delivery_status",
    substatus="substatus",
    original_country="origin_country",
    destination_country="destination_country",
    created_at="created_at",
    updated_at="update_at",  # sic: v4 spells it so
    archived="archived",  # "true" archived, "tracking" active: the landing reads only "true" as true
    order_id="order_id",
)

V4_CHECKPOINT_FIELDS = CheckpointFields(
    checkpoint_date="checkpoint_date",
    checkpoint_status="checkpoint_delivery_status",
    substatus="checkpoint_delivery_substatus",
    status_description="tracking_detail",
    details="location",
    item_node=None,
    # v4 puts milestones on the leg, not on the checkpoint: the checkpoint dated as a milestone is it.
    milestone_dates=(
        ("ItemReceived", ("milestone_date", "inforeceived_date")),
        ("ItemDispatched", ("milestone_date", "pickup_date")),
        ("DepartfromAirport", ("departed_airport_date",)),
        ("ArrivalfromAbroad", ("arrived_abroad_date",)),
        ("CustomsClearance", ("customs_received_date",)),
        ("DestinationArrived", ("arrived_destination_date",)),
    ),
)

# abstract parameter -> v4 query name
_QUERY_NAMES = {
    PAGE: "pages_amount",
    LIMIT: "items_amount",
    CREATED_SINCE: "created_date_min",
    CREATED_UNTIL: "created_date_max",
    UPDATED_SINCE: "updated_date_min",
    UPDATED_UNTIL: "updated_date_max",
    STATUS: "delivery_status",
}


class V4ListEnvelope(msgspec.Struct, gc=False):
    """A v4 list answer in one pass: `data` is the array of trackings (each kept as the exact
    bytes sent); error bodies carry an empty array, an object or null."""

    meta: Meta
    data: list[msgspec.Raw] | dict[str, Any] | None = None


V4_LIST_ENVELOPE_DECODER = msgspec.json.Decoder(V4ListEnvelope)


def iso_instant(unix_s: int) -> str:
    """Unix seconds as ISO-8601 with offset, as v4's date filters take them: 2023-08-23T06:00:00+00:00."""
    return datetime.fromtimestamp(unix_s, timezone.utc).isoformat()


def render_v4_query(params: Mapping[str, Any]) -> dict[str, Any]:
    """Abstract parameters in v4's names and formats; unknown names are sent as they are."""
    query: dict[str, Any] = {}
    for name, value in params.items():
        query[_QUERY_NAMES.get(name, name)] = iso_instant(int(value)) if name in INSTANT_PARAMS else value
    return query


def _page_of(data: Any) -> ListPage | None:
    return ListPage(items=data) if isinstance(data, list) else None


V4_LIST = ListEndpoint(
    version="v4",
    path="/trackings/get",
    auth_header="Tracking-Api-Key",
    decoder=V4_LIST_ENVELOPE_DECODER,
    page_of=_page_of,
    render_query=render_v4_query,
    code_table=V4_CODE_TABLE,
    default_rate_per_s=10.0,  # §10.6: 10 req/s on trackings/get per account
    default_page_limit=100,
    max_page_limit=100,
    reports_total=False,
    item_fields=V4_ITEM_FIELDS,
    checkpoint_fields=V4_CHECKPOINT_FIELDS,
    base_url_hint="https://api.trackingmore.com/v4",
)
