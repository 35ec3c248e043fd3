"""A client written only from the spec drives the whole tracking lifecycle against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline_tests.sandbox_client_spec import ApiError, SpecClient

UNTHROTTLED = SandboxConfig(
    trackings=400, seed=5, list_rate_per_s=None, other_rate_per_s=None, realtime_rate_per_s=None
)


@pytest.fixture()
def client() -> Iterator[SpecClient]:
    with SandboxServer(UNTHROTTLED).running() as server:
        yield SpecClient(server.base_url, "sandbox-key")


def test_create_get_list_update_delete_lifecycle(client: SpecClient) -> None:
    created = client.create(
        "1Z999AA10123456784", "ups", order_id="#A-1", title="Café mug", customer_email="anna@example.com"
    )
    assert created["status"] == "pending" and len(created["id"]) == 32

    fetched = client.get("ups", "1Z999AA10123456784")
    assert fetched["id"] == created["id"] and fetched["title"] == "Café mug"
    assert fetched["updated_at"] is None  # not refreshed yet

    by_number = list(client.list_all(numbers="1Z999AA10123456784"))
    by_order = list(client.list_all(orders="#A-1", status="pending"))
    assert [item["id"] for item in by_number] == [item["id"] for item in by_order] == [created["id"]]

    updated = client.update("ups", "1Z999AA10123456784", title="Mug", archived="true", status=7)
    assert (updated["title"], updated["archived"], updated["status"].lower()) == ("Mug", True, "exception")
    assert updated["updated_at"] is not None
    assert [i["id"] for i in client.list_all(archived="true", numbers="1Z999AA10123456784")] == [
        created["id"]
    ]

    assert client.delete("ups", "1Z999AA10123456784") == []
    with pytest.raises(ApiError) as missing:
        client.get("ups", "1Z999AA10123456784")
    assert missing.value.code == 4031


def test_list_all_returns_every_tracking_once(client: SpecClient) -> None:
    ids = [item["id"] for item in client.list_all(limit=150)]
    assert len(ids) == len(set(ids)) == 400


def test_batch_reports_added_and_per_item_errors(client: SpecClient) -> None:
    result = client.batch(
        [
            {"tracking_number": "9400111899223100012345", "carrier_code": "usps"},
            {"tracking_number": "LK123456785CN", "carrier_code": "china-post"},
            {"tracking_number": "9400111899223100012345", "carrier_code": "usps"},
            {"tracking_number": "", "carrier_code": "usps"},
        ]
    )
    assert (result["submitted"], result["added"]) == (4, 2)
    assert [error["code"] for error in result["errors"]] == [4016, 4013]
    assert client.get("china-post", "LK123456785CN")["carrier_code"] == "china-post"


def test_detect_names_the_courier_from_the_number(client: SpecClient) -> None:
    assert client.detect("1Z999AA10123456784")[0]["code"] == "ups"
    assert client.detect("LK123456785CN")[0]["code"] == "china-post"
    with pytest.raises(ApiError) as undetected:
        client.detect("HELLO-WORLD")
    assert undetected.value.code == 4032
