"""The v4 tracking object (§10.4) of a shipment, made from the v2 object the store serves.

Both versions show the same shipment: one store, one ground truth. Choices the spec leaves open
(UNCONFIRMED, listed in docs/sandbox.md): country fields carry the same values as v2; a checkpoint's
`checkpoint_date` is v2's courier-local wall time with a `T` between date and time and no offset
(the form of the spec's `latest_checkpoint_time` sample); `archived` is "true" or "tracking";
`delivery_status` is v2's status in lower case (the sandbox has no `inforeceived` shipments);
milestones sit on the leg (`milestone_date` and the dated leg fields), not on checkpoints.
"""

from __future__ import annotations

from typing import Any

# v2 leg milestone -> where v4 puts its date on the leg (§10.4)
_MILESTONES = {
    "ItemReceived": ("milestone_date", "inforeceived_date"),
    "ItemDispatched": ("milestone_date", "pickup_date"),
    "DepartfromAirport": ("departed_airport_date",),
    "ArrivalfromAbroad": ("arrived_abroad_date",),
    "CustomsClearance": ("customs_received_date",),
    "DestinationArrived": ("arrived_destination_date",),
}
_OTHER_MILESTONE_DATES = ("outfordelivery_date", "delivery_date", "returning_date", "returned_date")


def v4_wall_time(v2_date: Any) -> Any:
    """'2024-05-01 12:00:00' -> '2024-05-01T12:00:00' (None and '' stay as they are)."""
    return v2_date.replace(" ", "T", 1) if isinstance(v2_date, str) and v2_date else v2_date


def _checkpoint(v2: dict[str, Any]) -> dict[str, Any]:
    return {
        "checkpoint_date": v4_wall_time(v2.get("Date")),
        "checkpoint_delivery_status": v2.get("checkpoint_status"),
        "checkpoint_delivery_substatus": v2.get("substatus"),
        "tracking_detail": v2.get("StatusDescription"),
        "location": v2.get("Details"),
        "country_iso2": None,
        "state": None,
        "city": None,
        "zip": None,
        "raw_status": None,
    }


def _leg(v2: dict[str, Any]) -> dict[str, Any]:
    milestone_date: dict[str, Any] = dict.fromkeys(("inforeceived_date", "pickup_date", *_OTHER_MILESTONE_DATES))
    leg: dict[str, Any] = {
        "courier_code": v2.get("carrier_code"),
        "courier_phone": v2.get("phone"),
        "weblink": v2.get("weblink"),
        "reference_number": v2.get("ReferenceNumber"),
        "milestone_date": milestone_date,
    }
    for node, path in _MILESTONES.items():
        date = v4_wall_time(v2.get(node))
        if len(path) == 2:
            milestone_date[path[1]] = date
        else:
            leg[path[0]] = date
    trackinfo = v2.get("trackinfo")
    leg["trackinfo"] = None if trackinfo is None else [_checkpoint(cp) for cp in trackinfo]
    return leg


def v4_tracking(v2: dict[str, Any]) -> dict[str, Any]:
    """The v4 object of the tracking whose v2 object is `v2`."""
    status = v2.get("status")
    item: dict[str, Any] = {
        "id": v2["id"],
        "tracking_number": v2.get("tracking_number"),
        "courier_code": v2.get("carrier_code"),
        "order_number": None,
        "order_date": v2.get("order_create_time"),
        "created_at": v2.get("created_at"),
        "update_at": v2.get("updated_at"),
        "delivery_status": status.lower() if isinstance(status, str) else status,
        "archived": "true" if v2.get("archived") is True else "tracking",
        "updating": False,
        "source": "API",
        "destination_country": v2.get("destination_country"),
        "origin_country": v2.get("original_country"),
        "customer_name": v2.get("customer_name"),
        "customer_email": v2.get("customer_email"),
        "order_id": v2.get("order_id"),
        "title": v2.get("title"),
        "logistics_channel": v2.get("logistics_channel"),
        "note": v2.get("comment"),
        "service_code": v2.get("service_code"),
        "substatus": v2.get("substatus"),
        "status_info": v2.get("status_info"),
        "latest_event": v2.get("lastEvent") or None,
        "latest_checkpoint_time": v4_wall_time(v2.get("lastUpdateTime")) or None,
        "transit_time": v2.get("itemTimeLength"),
        "origin_info": _leg(v2["origin_info"]) if isinstance(v2.get("origin_info"), dict) else None,
    }
    if "destination_info" in v2:  # absent, null or an object, as v2 sends it
        destination = v2["destination_info"]
        item["destination_info"] = _leg(destination) if isinstance(destination, dict) else None
    return item
