"""Deterministic shipment generator: same seed, same shipments, byte for byte.

Each shipment gets a planned journey (a list of checkpoint kinds with realistic gaps) and an
outcome: most are delivered (some after a failed attempt, a pickup-point notice or a delivery
exception), some are returned, lost, stalled (news stops; they later expire), never found, or
never refreshed at all. The mix and the messy spots (mixed-case statuses, missing countries,
absent `destination_info`, e-mails as lists) are what the pipeline meets in production.
"""

from __future__ import annotations

import random
from collections.abc import Container, Iterator

from .couriers import (
    COUNTRY_CITIES,
    COUNTRY_UTC_OFFSET_H,
    COURIER_WEIGHTS,
    COURIERS,
    COURIERS_BY_CODE,
    DESTINATION_POSTAL_CARRIER,
    Courier,
    make_tracking_number,
)
from .events import EVENT_KINDS, TERMINAL_EVENT_KINDS
from .randomness import pick
from .shipment import Checkpoint, Shipment
from .timefmt import format_wall_time

HOUR_S = 3600
DAY_S = 86400

# Outcome weights per 1000 shipments.
OUTCOMES: tuple[tuple[str, int], ...] = (
    ("delivered", 875),
    ("returned", 25),
    ("lost", 10),
    ("stalled", 40),
    ("undelivered_final", 15),
    ("no_info", 30),
    ("never_refreshed", 5),
)
_OUTCOME_NAMES = tuple(name for name, _ in OUTCOMES)
_OUTCOME_WEIGHTS = tuple(weight for _, weight in OUTCOMES)

_TITLES = ("", "", "", "Café mug", "连衣裙 红色 M", "Phone case", "Ski gloves – größe L", "Books (3)")
_FIRST_NAMES = ("anna", "li.wei", "jose", "marie", "sam", "noah", "zoë")


def _journey_kinds(rng: random.Random, outcome: str, cross_border: bool) -> list[str]:
    """The ordered checkpoint kinds of one journey, ending the way its outcome says."""
    if outcome in ("no_info", "never_refreshed"):
        return []
    kinds = ["received", "dispatched"] + ["hub"] * rng.randint(0, 2)
    if cross_border:
        kinds += ["departed_airport", "arrived_abroad"]
        if rng.random() < 0.08:
            kinds.append("customs_held")
        kinds.append("customs_cleared")
    kinds += ["hub"] * rng.randint(0, 1) + ["delivery_facility", "out_for_delivery"]
    if outcome == "delivered":
        # One draw decides the last mile, so shipments with a failed attempt keep their journeys.
        last_mile_roll = rng.random()
        if last_mile_roll < 0.1:
            kinds += ["failed_attempt", "out_for_delivery"]
        elif last_mile_roll < 0.15:
            kinds += ["pickup_point_notice"]  # collected by the addressee later
        elif last_mile_roll < 0.17:
            kinds += ["delivery_exception", "out_for_delivery"]
        return kinds + ["delivered"]
    if outcome == "undelivered_final":
        return kinds + ["failed_attempt"]
    if outcome == "returned":
        return kinds[: rng.randint(3, len(kinds))] + ["returning", "hub", "returned"]
    if outcome == "lost":
        return kinds[: rng.randint(2, len(kinds))] + ["lost"]
    return kinds[: rng.randint(1, len(kinds) - 1)]  # stalled: news simply stops


def _gap_s(rng: random.Random, previous: str, kind: str, postal: bool) -> int:
    """Seconds between two consecutive scans; long hauls only where a real parcel waits."""
    if previous == "departed_airport":
        return int(rng.uniform(3, 10) * DAY_S if postal else rng.uniform(16, 48) * HOUR_S)
    if previous == "customs_held":
        return int(rng.uniform(2, 10) * DAY_S)
    if previous in ("failed_attempt", "delivery_exception"):
        return int(rng.uniform(20, 28) * HOUR_S)
    if previous == "pickup_point_notice":
        return int(rng.uniform(0.5, 6) * DAY_S)
    if kind == "returned":
        return int(rng.uniform(8, 25) * DAY_S)
    return int(rng.uniform(6, 40) * HOUR_S if postal else rng.uniform(2, 14) * HOUR_S)


def _checkpoints(
    rng: random.Random,
    courier: Courier,
    kinds: list[str],
    first_utc: int,
    destination: str,
    two_legs: bool,
    checkpoint_capitalized: bool,
) -> list[Checkpoint]:
    checkpoints: list[Checkpoint] = []
    utc_ts = first_utc
    abroad = False
    previous = ""
    truncate_to_minute = not courier.date_has_seconds
    for kind_name in kinds:
        if previous:
            utc_ts += _gap_s(rng, previous, kind_name, courier.postal)
        previous = kind_name
        if kind_name == "arrived_abroad":
            abroad = True
        elif kind_name == "returned":
            abroad = False
        country = destination if abroad else courier.home_country
        leg = 1 if abroad and two_legs else 0
        kind = EVENT_KINDS[kind_name]
        offset_s = COUNTRY_UTC_OFFSET_H[country] * HOUR_S
        local_ts = utc_ts + offset_s
        if truncate_to_minute:
            local_ts -= local_ts % 60
        wording = kind.chinese if courier.chinese_text and leg == 0 else kind.english
        # Positional: this runs once per checkpoint of every generated tracking.
        checkpoints.append(
            Checkpoint(
                local_ts - offset_s,
                local_ts,
                leg,
                pick(rng, wording),
                pick(rng, COUNTRY_CITIES[country]) if rng.random() < 0.93 else "",
                kind.status.capitalize() if checkpoint_capitalized else kind.status,
                pick(rng, kind.substatuses),
                kind.item_node,
            )
        )
    return checkpoints


def _extras(rng: random.Random, created_ts: int) -> dict[str, object]:
    """Order and customer fields a shop sends when it creates a tracking; types vary on purpose."""
    name = pick(rng, _FIRST_NAMES)
    roll = rng.random()
    if roll < 0.55:
        email: object = ""
    elif roll < 0.8:
        email = f"{name}@example.com"
    elif roll < 0.95:
        email = [f"{name}@example.com"]
    else:
        email = [f"{name}@example.com", "orders@example.org"]
    roll = rng.random()
    order_id = f"#{rng.randint(1000, 99999)}" if roll < 0.75 else ("" if roll < 0.9 else None)
    order_created = created_ts - rng.randint(1, 72) * HOUR_S
    order_create_time = (
        format_wall_time(order_created + 8 * HOUR_S, seconds=False)
        if rng.random() < 0.6
        else pick(rng, ("", None))
    )
    return {
        "order_create_time": order_create_time,
        "customer_email": email,
        "customer_name": name.title() if rng.random() < 0.5 else None,
        "order_id": order_id,
        "comment": None if rng.random() < 0.9 else "leave at door",
        "title": pick(rng, _TITLES),
        "logistics_channel": "" if rng.random() < 0.8 else "standard",
    }


def make_shipment(
    rng: random.Random,
    created_ts: int,
    taken_numbers: Container[tuple[str, str]],
    now_ts: int,
    courier_code: str | None = None,
    tracking_number: str | None = None,
) -> Shipment:
    """One random shipment created at `created_ts`, with a (carrier, number) not in `taken_numbers`.

    `courier_code` / `tracking_number` pin what a client asked to create; the journey is still
    invented, as the real service would learn it from the courier.
    """
    courier = COURIERS_BY_CODE[courier_code] if courier_code else rng.choices(COURIERS, COURIER_WEIGHTS)[0]
    destinations, weights = zip(*courier.destinations, strict=True)
    destination = rng.choices(destinations, weights)[0]
    outcome = rng.choices(_OUTCOME_NAMES, _OUTCOME_WEIGHTS)[0]
    cross_border = destination != courier.home_country
    roll = rng.random()
    if cross_border and courier.postal:
        info_form = "object" if roll < 0.9 else ("null" if roll < 0.95 else "absent")
    else:
        info_form = "object" if roll < 0.6 else ("null" if roll < 0.85 else "absent")
    kinds = _journey_kinds(rng, outcome, cross_border)
    first_utc = created_ts + int(rng.uniform(-24, 36) * HOUR_S)
    checkpoints = _checkpoints(
        rng,
        courier,
        kinds,
        first_utc,
        destination,
        two_legs=info_form == "object" and cross_border and courier.postal,
        checkpoint_capitalized=rng.random() < 0.01,
    )
    number = tracking_number
    while number is None or (tracking_number is None and (courier.code, number) in taken_numbers):
        number = make_tracking_number(courier.code, rng)
    roll = rng.random()
    destination_country: str | None = destination
    if roll < 0.01:
        destination_country = None
    elif roll < 0.02:
        destination_country = ""
    old_and_done = now_ts - created_ts > 60 * DAY_S and bool(kinds) and kinds[-1] in TERMINAL_EVENT_KINDS
    return Shipment(
        tracking_id=f"{rng.getrandbits(128):032x}",
        tracking_number=number,
        carrier_code=courier.code,
        created_ts=created_ts,
        refresh_period_s=courier.refresh_period_s,
        events=checkpoints,
        journey_finished=bool(kinds) and kinds[-1] in TERMINAL_EVENT_KINDS,
        never_refreshed=outcome == "never_refreshed",
        original_country=courier.home_country if rng.random() < 0.99 else "",
        destination_country=destination_country,
        destination_country_absent=0.02 <= roll < 0.03,
        destination_info_form=info_form,
        destination_carrier=DESTINATION_POSTAL_CARRIER.get(destination) if cross_border else None,
        date_has_seconds=courier.date_has_seconds,
        status_capitalized=rng.random() < 0.01,
        substatus_known=rng.random() < 0.95,
        archived=old_and_done and rng.random() < 0.15,
        extras=_extras(rng, created_ts),
    )


def generate_shipments(seed: int, count: int, now_ts: int, history_s: int) -> Iterator[Shipment]:
    """`count` shipments created uniformly over the `history_s` seconds before `now_ts`."""
    rng = random.Random(seed)
    taken_numbers: set[tuple[str, str]] = set()
    for _ in range(count):
        created_ts = now_ts - 1 - int(rng.random() * history_s)
        shipment = make_shipment(rng, created_ts, taken_numbers, now_ts)
        taken_numbers.add((shipment.carrier_code, shipment.tracking_number))
        yield shipment
