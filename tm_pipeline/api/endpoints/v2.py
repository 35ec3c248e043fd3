"""TrackingMore v2 `GET /v2/trackings/get` as a ListEndpoint (TrackingMore v2 API reference, list endpoint).

The abstract parameters are v2's own names in unix seconds, so the query is sent as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tm_pipeline.api.endpoints.base import CheckpointFields, ItemFields, ListEndpoint
from tm_pipeline.api.envelope import LIST_ENVELOPE_DECODER, ListPage
from tm_pipeline.api.status_codes import SEED_TABLE

V2_ITEM_FIELDS = ItemFields(
    tracking_id="id",
    tracking_number="tracking_number",
    carrier_code="carrier_code",
    status="status",
    substatus="substatus",
    original_country="original_country",
    destination_country="destination_country",
    created_at="created_at",
    updated_at="updated_at",
    archived="archived",
    order_id="order_id",
)

V2_CHECKPOINT_FIELDS = CheckpointFields(
    checkpoint_date="Date",
    checkpoint_status="checkpoint_status",
    substatus="substatus",
    status_description="StatusDescription",
    details="Details",
    item_node="ItemNode",
)


def _page_of(data: Any) -> ListPage | None:
    return data if isinstance(data, ListPage) else None  # error bodies carry `"data": []`


def _render_query(params: Mapping[str, Any]) -> dict[str, Any]:
    return dict(params)


V2_LIST = ListEndpoint(
    version="v2",
    path="/trackings/get",
    auth_header="Trackingmore-Api-Key",
    decoder=LIST_ENVELOPE_DECODER,
    page_of=_page_of,
    render_query=_render_query,
    code_table=SEED_TABLE,
    default_rate_per_s=1.0,  # §7: 1 request/second per key
    default_page_limit=2000,
    max_page_limit=2000,
    reports_total=True,
    item_fields=V2_ITEM_FIELDS,
    checkpoint_fields=V2_CHECKPOINT_FIELDS,
    base_url_hint="https://api.trackingmore.com/v2",
)
