"""The generated account looks like a real one, messy spots included (checked on served JSON)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

import pytest

from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.sandbox.detect import detect_couriers

V2_STATUSES = {"pending", "notfound", "transit", "pickup", "delivered", "undelivered", "exception", "expired"}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$")


@pytest.fixture(scope="module")
def trackings() -> list[dict]:
    return SandboxServer(SandboxConfig(trackings=3000, seed=42)).truth_trackings()


def checkpoints(item: dict) -> list[dict]:
    legs = [item["origin_info"], item.get("destination_info") or {}]
    return [cp for leg in legs for cp in (leg.get("trackinfo") or [])]


def test_all_eight_statuses_with_delivered_and_transit_most_common(trackings: list[dict]) -> None:
    counts = Counter(item["status"].lower() for item in trackings)
    assert set(counts) == V2_STATUSES
    assert counts.most_common(1)[0][0] == "delivered"
    assert any(item["status"] == "Delivered" for item in trackings)


def test_ids_are_32_hex_and_unique(trackings: list[dict]) -> None:
    ids = [item["id"] for item in trackings]
    assert all(re.fullmatch(r"[0-9a-f]{32}", tid) for tid in ids) and len(set(ids)) == len(ids)


def test_eight_couriers_with_realistic_numbers(trackings: list[dict]) -> None:
    numbers = {item["carrier_code"]: item["tracking_number"] for item in trackings}
    assert len(numbers) == 8
    assert numbers["ups"].startswith("1Z") and len(numbers["ups"]) == 18
    assert re.fullmatch(r"[A-Z]{2}\d{9}CN", numbers["china-post"])
    assert re.fullmatch(r"\d{10}", numbers["dhl"])


def test_checkpoints_are_newest_first_with_zone_free_dates(trackings: list[dict]) -> None:
    for item in trackings:
        for leg in (item["origin_info"], item.get("destination_info") or {}):
            dates = [cp["Date"] for cp in leg.get("trackinfo") or []]
            assert all(DATE_RE.match(date) for date in dates)
            assert dates == sorted(dates, reverse=True)


def test_delivered_trackings_have_a_delivered_checkpoint(trackings: list[dict]) -> None:
    delivered = [item for item in trackings if item["status"].lower() == "delivered"]
    assert all(
        any(cp["checkpoint_status"].lower() == "delivered" for cp in checkpoints(i)) for i in delivered
    )
    had_exception = [
        i for i in delivered if any(cp["checkpoint_status"].lower() == "exception" for cp in checkpoints(i))
    ]
    assert had_exception


def test_optional_shapes_vary_like_production(trackings: list[dict]) -> None:
    info_forms = Counter(
        "absent" if "destination_info" not in i else type(i["destination_info"]).__name__ for i in trackings
    )
    assert set(info_forms) == {"absent", "NoneType", "dict"}
    assert {type(i["customer_email"]).__name__ for i in trackings} == {"str", "list"}
    assert any(i["updated_at"] is None and i["status"] == "pending" for i in trackings)
    assert any("destination_country" not in i for i in trackings)
    assert any(i["destination_country"] == "" for i in trackings if "destination_country" in i)
    assert any(not checkpoints(i) for i in trackings)
    assert any(
        cp["checkpoint_status"] != cp["checkpoint_status"].lower() for i in trackings for cp in checkpoints(i)
    )
    texts = " ".join(cp["StatusDescription"] + cp["Details"] for i in trackings for cp in checkpoints(i))
    assert "已妥投" in texts or "已收寄" in texts
    assert "é" in texts or "ö" in texts
    assert all(datetime.fromisoformat(i["created_at"]).utcoffset() is not None for i in trackings)


def test_milestone_item_nodes_match_leg_fields(trackings: list[dict]) -> None:
    for item in trackings[:500]:
        for cp in item["origin_info"]["trackinfo"] or []:
            if "ItemNode" in cp:
                assert item["origin_info"][cp["ItemNode"]] is not None


def test_every_generated_number_is_detected_as_its_courier(trackings: list[dict]) -> None:
    assert all(item["carrier_code"] in detect_couriers(item["tracking_number"]) for item in trackings)
