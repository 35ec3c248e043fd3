"""A v4 pushed tracking in the v2 item shape the lake's TRACKINGS columns and the load read.

Minimal on purpose: only the fields the typed columns and `raw.checkpoints` read, named as the
v4 object names them (the API description, §10.4). The v4 list endpoint's own
item→columns mapping (branch `v4`) replaces this function at merge, so pushes and polled v4 pages
are typed by one mapping; until then, what v4 carries and v2 does not (milestone dates, locations
as separate fields) stays in the push log's original bytes, not in raw_json.
"""

from __future__ import annotations

from typing import Any

# v4 sends `archived` as a string: "true" archived, "tracking" active (observed); a bool is kept as is.
_ARCHIVED_TEXT = {"true": True, "archived": True, "false": False, "tracking": False}


def _checkpoint(v4_checkpoint: Any) -> Any:
    if not isinstance(v4_checkpoint, dict):
        return v4_checkpoint  # left as sent: the load's typed unnest decides what it can read
    return {
        "Date": v4_checkpoint.get("checkpoint_date"),
        "StatusDescription": v4_checkpoint.get("tracking_detail"),
        "Details": v4_checkpoint.get("location"),
        "checkpoint_status": v4_checkpoint.get("checkpoint_delivery_status"),
        "substatus": v4_checkpoint.get("checkpoint_delivery_substatus"),
    }


def _leg(v4_leg: Any) -> Any:
    if not isinstance(v4_leg, dict):
        return v4_leg
    trackinfo = v4_leg.get("trackinfo")
    return {
        "carrier_code": v4_leg.get("courier_code"),
        "trackinfo": [_checkpoint(c) for c in trackinfo] if isinstance(trackinfo, list) else trackinfo,
    }


def v4_to_v2_item(tracking: dict[str, Any]) -> dict[str, Any]:
    archived = tracking.get("archived")
    item: dict[str, Any] = {
        "id": tracking.get("id"),
        "tracking_number": tracking.get("tracking_number"),
        "carrier_code": tracking.get("courier_code"),
        "status": tracking.get("delivery_status"),
        "substatus": tracking.get("substatus"),
        "original_country": tracking.get("origin_country"),
        "created_at": tracking.get("created_at"),
        "updated_at": tracking.get("update_at"),
        "archived": _ARCHIVED_TEXT.get(archived.lower(), archived) if isinstance(archived, str) else archived,
        "order_id": tracking.get("order_id"),
        "origin_info": _leg(tracking.get("origin_info")),
    }
    if "destination_country" in tracking:
        item["destination_country"] = tracking["destination_country"]
    if "destination_info" in tracking:
        item["destination_info"] = _leg(tracking["destination_info"])
    return item
