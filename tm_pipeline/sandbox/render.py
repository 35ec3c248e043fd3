"""Turn a shipment's current state into the v2 tracking object (§4) the API serves."""

from __future__ import annotations

from .couriers import COURIERS_BY_CODE
from .shipment import Checkpoint, Shipment
from .timefmt import format_iso, format_wall_time

MILESTONES = (
    "ItemReceived",
    "ItemDispatched",
    "DepartfromAirport",
    "ArrivalfromAbroad",
    "CustomsClearance",
    "DestinationArrived",
)

_EMPTY_MILESTONES: dict[str, object] = {"ReferenceNumber": None, **dict.fromkeys(MILESTONES)}


def _checkpoint_json(checkpoint: Checkpoint, date: str) -> dict[str, object]:
    item: dict[str, object] = {
        "Date": date,
        "StatusDescription": checkpoint.description,
        "Details": checkpoint.details,
        "checkpoint_status": checkpoint.checkpoint_status,
        "substatus": checkpoint.substatus,
    }
    if checkpoint.item_node:
        item["ItemNode"] = checkpoint.item_node
    return item


def _leg_info(
    checkpoints: list[Checkpoint], dates: list[str], carrier_code: str | None, trackinfo_null: bool
) -> dict[str, object]:
    """origin_info / destination_info: milestones, courier contact, and trackinfo newest first."""
    info: dict[str, object] = dict(_EMPTY_MILESTONES)
    for checkpoint, date in zip(checkpoints, dates, strict=True):
        if checkpoint.item_node and info[checkpoint.item_node] is None:
            info[checkpoint.item_node] = date
    courier = COURIERS_BY_CODE.get(carrier_code or "")
    info["weblink"] = courier.homepage if courier else None
    info["phone"] = courier.phone if courier else None
    info["carrier_code"] = carrier_code
    info["trackinfo"] = (
        None
        if trackinfo_null
        else [
            _checkpoint_json(checkpoint, date)
            for checkpoint, date in zip(reversed(checkpoints), reversed(dates), strict=True)
        ]
    )
    return info


def render_tracking(shipment: Shipment, account_offset_h: int) -> dict[str, object]:
    """The tracking exactly as `GET /v2/trackings/get` lists it right now."""
    visible = shipment.visible_events
    dates = [format_wall_time(cp.local_ts, shipment.date_has_seconds) for cp in visible]
    legs: tuple[list[Checkpoint], list[Checkpoint]] = ([], [])
    leg_dates: tuple[list[str], list[str]] = ([], [])
    for checkpoint, date in zip(visible, dates, strict=True):
        legs[checkpoint.leg].append(checkpoint)
        leg_dates[checkpoint.leg].append(date)
    status = shipment.status
    updated_ts = shipment.updated_ts
    substatus: str | None
    if visible:
        last = visible[-1]
        end_ts = updated_ts if status != "delivered" else last.utc_ts
        item_days = max(0, (end_ts or last.utc_ts) - visible[0].utc_ts) // 86400
        stay_days = max(0, (updated_ts or last.utc_ts) - last.utc_ts) // 86400
        last_event = f"{last.description},{last.details},{dates[-1]}"
        last_update_time = dates[-1]
        substatus = last.substatus
    else:
        item_days = stay_days = 0
        last_event = last_update_time = ""
        substatus = "notfound002" if status == "notfound" else None
    if status == "expired":
        substatus = "expired001"
    item: dict[str, object] = {
        "id": shipment.tracking_id,
        "tracking_number": shipment.tracking_number,
        "carrier_code": shipment.carrier_code,
        "order_create_time": shipment.extras.get("order_create_time"),
        "status": status.capitalize() if shipment.status_capitalized else status,
        "track_update": shipment.track_update,
        "original_country": shipment.original_country,
    }
    if not shipment.destination_country_absent:
        item["destination_country"] = shipment.destination_country
    item.update(
        {
            "itemTimeLength": item_days,
            "stayTimeLength": stay_days,
            "substatus": substatus if shipment.substatus_known else None,
            "created_at": format_iso(shipment.created_ts, account_offset_h),
            "updated_at": None if updated_ts is None else format_iso(updated_ts, account_offset_h),
        }
    )
    for key in ("customer_email", "customer_name", "order_id", "comment", "title", "logistics_channel"):
        item[key] = shipment.extras.get(key)
    item["archived"] = shipment.archived
    item["service_code"] = None
    item["status_info"] = None
    item["origin_info"] = _leg_info(
        legs[0], leg_dates[0], shipment.carrier_code, trackinfo_null=not shipment.refreshed
    )
    if shipment.destination_info_form == "object":
        item["destination_info"] = _leg_info(
            legs[1], leg_dates[1], shipment.destination_carrier, trackinfo_null=False
        )
    elif shipment.destination_info_form == "null":
        item["destination_info"] = None
    item["lastEvent"] = last_event
    item["lastUpdateTime"] = last_update_time
    return item
