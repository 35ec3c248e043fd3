"""The generator makes what the journey marts measure: failed first attempts, pickup-point notices,
exceptions after out-for-delivery and shipments that stop scanning, the same for the same seed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from tm_pipeline.sandbox.generator import generate_shipments
from tm_pipeline.sandbox.shipment import Shipment

NOW_TS = int(datetime(2024, 6, 1, tzinfo=timezone.utc).timestamp())


def last_mile_story(shipment: Shipment) -> str:
    """What happened between the first out-for-delivery and the delivered scan, in plan order."""
    statuses = [cp.checkpoint_status.lower() for cp in shipment.events]
    substatuses = [cp.substatus for cp in shipment.events]
    if "delivered" not in statuses:
        return "not delivered" if shipment.journey_finished else "stops scanning"
    if "pickup" not in statuses:
        return "no out-for-delivery"
    between = range(statuses.index("pickup"), statuses.index("delivered"))
    if any(statuses[i] == "undelivered" for i in between):
        return "failed attempt"
    if any(substatuses[i] == "pickup002" for i in between):
        return "pickup-point notice"
    if any(statuses[i] == "exception" for i in between):
        return "exception"
    return "first attempt"


def stories(seed: int) -> Counter[str]:
    return Counter(last_mile_story(s) for s in generate_shipments(seed, 3000, NOW_TS, 120 * 86400))


def test_every_last_mile_story_occurs_and_first_attempts_dominate() -> None:
    counted = stories(seed=11)
    for story in ("failed attempt", "pickup-point notice", "exception", "stops scanning"):
        assert counted[story] > 0, (story, counted)
    assert counted["no out-for-delivery"] == 0
    delivered = sum(n for story, n in counted.items() if story not in ("not delivered", "stops scanning"))
    assert 0.7 < counted["first attempt"] / delivered < 0.95


def test_the_same_seed_plans_the_same_journeys() -> None:
    first = [(s.tracking_id, s.events) for s in generate_shipments(5, 500, NOW_TS, 120 * 86400)]
    again = [(s.tracking_id, s.events) for s in generate_shipments(5, 500, NOW_TS, 120 * 86400)]
    assert first == again
    assert stories(seed=5) != stories(seed=6)
