"""Checkpoint kinds a journey is made of: the v2 status, sub-status, milestone and wording of each.

A checkpoint's wording depends on who writes it: Chinese posts write Chinese, everyone else
English, which is what puts unicode into real `StatusDescription` values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventKind:
    """What one courier scan means, independent of when and where it happened."""

    status: str
    substatuses: tuple[str, ...]
    item_node: str | None
    english: tuple[str, ...]
    chinese: tuple[str, ...]


EVENT_KINDS: dict[str, EventKind] = {
    "received": EventKind(
        "transit",
        ("transit001",),
        "ItemReceived",
        ("Shipment picked up", "Acceptance", "Origin Scan"),
        ("已收寄", "揽投员已收件"),
    ),
    "dispatched": EventKind(
        "transit",
        ("transit006",),
        "ItemDispatched",
        ("Departed from facility", "Item dispatched"),
        ("离开处理中心，发往国际互换局",),
    ),
    "hub": EventKind(
        "transit",
        ("transit002",),
        None,
        ("Arrived at sort facility", "Processed at hub", "In transit to next facility"),
        ("到达处理中心", "已到达分拣中心"),
    ),
    "departed_airport": EventKind(
        "transit",
        ("transit007",),
        "DepartfromAirport",
        ("Departed from airport of origin", "Handed over to airline"),
        ("已交航空公司运输", "出口总包直封封发"),
    ),
    "arrived_abroad": EventKind(
        "transit",
        ("transit004",),
        "ArrivalfromAbroad",
        ("Arrived in destination country", "Processed through facility ISC"),
        ("到达寄达地",),
    ),
    "customs_held": EventKind(
        "exception", ("exception006",), None, ("Held by customs", "Customs clearance delay"), ("海关扣留",)
    ),
    "customs_cleared": EventKind(
        "transit",
        ("transit005",),
        "CustomsClearance",
        ("Customs clearance completed", "Released by customs"),
        ("海关放行",),
    ),
    "delivery_facility": EventKind(
        "transit",
        ("transit003",),
        "DestinationArrived",
        ("Arrived at delivery facility", "Arrived at post office"),
        ("到达投递局",),
    ),
    "out_for_delivery": EventKind(
        "pickup", ("pickup001",), None, ("Out for delivery", "With delivery courier"), ("正在派件",)
    ),
    "pickup_point_notice": EventKind(
        "pickup",
        ("pickup002",),
        None,
        ("Ready for collection at pickup point", "Notice left - collect at post office"),
        ("已到达自提点，请取件",),
    ),
    "delivery_exception": EventKind(
        "exception",
        ("exception005",),
        None,
        ("Delivery exception - address to be confirmed", "Delivery delayed - vehicle breakdown"),
        ("派送异常",),
    ),
    "failed_attempt": EventKind(
        "undelivered",
        ("undelivered002", "undelivered001", "undelivered003"),
        None,
        ("Delivery attempted - no one available", "Notice left", "Addressee unknown"),
        ("投递未成功",),
    ),
    "delivered": EventKind(
        "delivered",
        ("delivered001", "delivered003", "delivered004"),
        None,
        ("Delivered", "Delivered, in/at mailbox", "Delivered - signed for"),
        ("已妥投", "已签收，感谢使用"),
    ),
    "returning": EventKind(
        "exception",
        ("exception011",),
        None,
        ("Return to sender in progress", "Refused by addressee, returning"),
        ("退回寄件人",),
    ),
    "returned": EventKind(
        "exception",
        ("exception010",),
        None,
        ("Returned to sender", "Delivered back to sender"),
        ("已退回妥投",),
    ),
    "lost": EventKind(
        "exception", ("exception007",), None, ("Item damaged or lost in transit",), ("邮件丢失",)
    ),
}

# Event kinds after which the courier stops sending news: the journey is over.
TERMINAL_EVENT_KINDS: frozenset[str] = frozenset({"delivered", "returned", "lost"})
