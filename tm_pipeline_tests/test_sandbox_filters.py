"""Every §3.1 list filter over real HTTP, checked against the trackings the sandbox serves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.sandbox.detect import detect_couriers
from tm_pipeline.sandbox.filters import order_created_ts


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(trackings=1500, seed=21, list_rate_per_s=None)).running() as server:
        yield server


@pytest.fixture(scope="module")
def served(sandbox: SandboxServer) -> list[dict]:
    return sandbox.truth_trackings()


def listed_ids(server: SandboxServer, **params: object) -> list[str]:
    body = requests.get(
        f"{server.base_url}/trackings/get",
        params={"limit": 2000, **params},
        headers={"Trackingmore-Api-Key": "sandbox-key"},
        timeout=10,
    ).json()
    return [] if body["meta"]["code"] == 4031 else [item["id"] for item in body["data"]["items"]]


def unix(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def test_status_filter_is_case_insensitive_on_stored_status(
    sandbox: SandboxServer, served: list[dict]
) -> None:
    expected = [i["id"] for i in served if i["status"].lower() == "exception"]
    assert listed_ids(sandbox, status="exception") == expected
    assert listed_ids(sandbox, status="EXCEPTION") == expected


def test_created_at_bounds_are_inclusive_unix_seconds(sandbox: SandboxServer, served: list[dict]) -> None:
    low, high = unix(served[400]["created_at"]), unix(served[100]["created_at"])
    expected = [i["id"] for i in served if low <= unix(i["created_at"]) <= high]
    assert listed_ids(sandbox, created_at_min=low, created_at_max=high) == expected
    assert len(expected) == 301


def test_update_time_bounds_skip_never_updated(sandbox: SandboxServer, served: list[dict]) -> None:
    low = unix(served[0]["created_at"]) - 3 * 86400
    expected = [i["id"] for i in served if i["updated_at"] is not None and unix(i["updated_at"]) >= low]
    assert listed_ids(sandbox, update_time_min=low) == expected
    assert listed_ids(sandbox, update_time_max=low)  # older updates only
    assert not set(listed_ids(sandbox, update_time_max=low)) & set(expected)


def test_order_created_time_reads_free_text_in_account_time(
    sandbox: SandboxServer, served: list[dict]
) -> None:
    stamps = {i["id"]: order_created_ts(i["order_create_time"], 8) for i in served}
    low = sorted(ts for ts in stamps.values() if ts is not None)[100]
    expected = [tid for tid, ts in stamps.items() if ts is not None and ts >= low]
    assert listed_ids(sandbox, order_created_time_min=low) == expected
    assert order_created_ts("2017/8/27 16:51", 8) == unix("2017-08-27T16:51:00+08:00")


def test_numbers_and_orders_select_exact_values(sandbox: SandboxServer, served: list[dict]) -> None:
    picked = served[10:13]
    numbers = ",".join(i["tracking_number"] for i in picked)
    assert listed_ids(sandbox, numbers=numbers) == [i["id"] for i in picked]
    with_order = next(i for i in served if i["order_id"])
    assert with_order["id"] in listed_ids(sandbox, orders=with_order["order_id"])


def test_archived_true_false_and_unset(sandbox: SandboxServer, served: list[dict]) -> None:
    archived = [i["id"] for i in served if i["archived"]]
    assert archived and listed_ids(sandbox, archived="true") == archived
    assert len(listed_ids(sandbox, archived="false")) == len(served) - len(archived)
    assert len(listed_ids(sandbox, archived="maybe")) == len(served)


def test_empty_and_zero_mean_not_set_like_the_official_samples(
    sandbox: SandboxServer, served: list[dict]
) -> None:
    everything = listed_ids(
        sandbox,
        status="",
        created_at_min=0,
        created_at_max="",
        update_time_min=0,
        order_created_time_max=0,
        numbers="",
        orders="",
        archived="",
        lang="en",
    )
    assert everything == [i["id"] for i in served]


def test_detection_rules_follow_number_shapes() -> None:
    assert detect_couriers("1Z999AA10123456784") == ["ups"]
    assert detect_couriers("9400111899223100012345") == ["usps"]
    assert detect_couriers("1234567890") == ["dhl"]
    assert detect_couriers("123456789012") == ["fedex"] and detect_couriers("123456789012345") == ["fedex"]
    assert detect_couriers("lk123456785cn") == ["china-post"]
    assert detect_couriers("EA123456785CN") == ["china-ems", "china-post"]
    assert detect_couriers("RR123456785GB") == ["royal-mail"]
    assert detect_couriers("12345") == []
