"""The list endpoint over real HTTP: envelope, paging, auth, limits, throttling, determinism."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer, key_fingerprint

KEY = "sandbox-key"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(trackings=2500, seed=7, list_rate_per_s=None)).running() as server:
        yield server


def get_page(server: SandboxServer, key: str | None = KEY, **params: object) -> dict:
    headers = {"Trackingmore-Api-Key": key} if key is not None else {}
    response = requests.get(f"{server.base_url}/trackings/get", params=params, headers=headers, timeout=10)
    assert response.status_code == 200
    return response.json()


def test_list_envelope_has_v2_shape_and_types(sandbox: SandboxServer) -> None:
    body = get_page(sandbox, page=1, limit=2000)
    assert body["meta"] == {"code": 200, "type": "Success", "message": "Success"}
    data = body["data"]
    assert data["page"] == 1 and data["limit"] == 2000
    assert data["total"] == "2500" and isinstance(data["total"], str)
    assert data["count"] == 2000 == len(data["items"])


def test_default_limit_is_100(sandbox: SandboxServer) -> None:
    data = get_page(sandbox)["data"]
    assert data["limit"] == 100 and len(data["items"]) == 100


def test_paging_covers_every_id_exactly_once_in_created_desc_order(sandbox: SandboxServer) -> None:
    items = []
    for page in (1, 2, 3):
        items += get_page(sandbox, page=page, limit=1000)["data"]["items"]
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == 2500
    assert {item["id"] for item in sandbox.truth_trackings()} == set(ids)
    keys = [(-datetime.fromisoformat(item["created_at"]).timestamp(), item["id"]) for item in items]
    assert keys == sorted(keys)


def test_past_last_page_is_success_with_empty_items(sandbox: SandboxServer) -> None:
    body = get_page(sandbox, page=99, limit=2000)
    assert body["meta"]["code"] == 200
    assert body["data"]["items"] == [] and body["data"]["count"] == 0 and body["data"]["total"] == "2500"


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_missing_or_unknown_key_is_4001_with_empty_data(sandbox: SandboxServer, key: str | None) -> None:
    body = get_page(sandbox, key=key)
    assert body == {
        "meta": {"code": 4001, "type": "Unauthorized", "message": body["meta"]["message"]},
        "data": [],
    }


@pytest.mark.parametrize("limit", [2001, -1, "abc"])
def test_limit_out_of_bounds_is_4012(sandbox: SandboxServer, limit: object) -> None:
    body = get_page(sandbox, limit=limit)
    assert body["meta"]["code"] == 4012 and body["data"] == []


@pytest.mark.parametrize("limit", ["", "0"])
def test_empty_or_zero_limit_means_default(sandbox: SandboxServer, limit: str) -> None:
    assert get_page(sandbox, limit=limit)["data"]["limit"] == 100


def test_back_to_back_list_requests_get_429_and_are_counted() -> None:
    config = SandboxConfig(trackings=50, seed=1, list_rate_per_s=1.0)
    with SandboxServer(config).running() as server:
        server.add_api_key("test-429")
        first = get_page(server, key="test-429")
        second = get_page(server, key="test-429")
        other_key = get_page(server, key=KEY)
        stats = server.stats()
    assert first["meta"]["code"] == 200 and other_key["meta"]["code"] == 200
    assert second == {
        "meta": {"code": 429, "type": "Too Many Requests", "message": "Too Many Requests"},
        "data": [],
    }
    assert stats["served_429"] == 1
    assert stats["by_endpoint_code"]["/v2/trackings/get"] == {"200": 2, "429": 1}
    assert "test-429" not in str(stats)
    assert stats["max_list_rate_per_key"][key_fingerprint("test-429")] > 1.0


def test_rejected_requests_do_not_move_the_window() -> None:
    config = SandboxConfig(trackings=20, seed=1, list_rate_per_s=4.0)
    with SandboxServer(config).running() as server:
        assert get_page(server)["meta"]["code"] == 200
        time.sleep(0.15)
        assert get_page(server)["meta"]["code"] == 429
        time.sleep(0.12)  # 0.27 s after the accepted one: allowed although only 0.12 s after the 429
        assert get_page(server)["meta"]["code"] == 200


def test_same_seed_serves_byte_identical_pages() -> None:
    bodies = []
    for _ in range(2):
        with SandboxServer(SandboxConfig(trackings=600, seed=99, list_rate_per_s=None)).running() as server:
            response = requests.get(
                f"{server.base_url}/trackings/get",
                params={"limit": 2000},
                headers={"Trackingmore-Api-Key": KEY},
                timeout=10,
            )
            bodies.append(response.content)
    assert bodies[0] == bodies[1]


def test_empty_account_answers_4031() -> None:
    with SandboxServer(SandboxConfig(trackings=0, list_rate_per_s=None)).running() as server:
        body = get_page(server)
    assert body["meta"]["code"] == 4031 and body["data"] == []


def test_stats_are_served_over_http_without_a_key(sandbox: SandboxServer) -> None:
    stats = requests.get(sandbox.base_url.replace("/v2", "/_sandbox/stats"), timeout=10).json()
    assert stats["requests"] >= 1 and "/v2/trackings/get" in stats["by_endpoint_code"]


def test_keep_alive_connection_serves_many_pages(sandbox: SandboxServer) -> None:
    with requests.Session() as session:
        for page in (1, 2, 1):
            response = session.get(
                f"{sandbox.base_url}/trackings/get",
                params={"page": page, "limit": 2000},
                headers={"Trackingmore-Api-Key": KEY},
                timeout=10,
            )
            assert int(response.headers["Content-Length"]) == len(response.content)
            assert response.headers.get("Connection", "keep-alive").lower() != "close"


def test_stop_closes_pooled_keep_alive_connections() -> None:
    with requests.Session() as session:
        server = SandboxServer(SandboxConfig(trackings=10, list_rate_per_s=None)).start()
        url = f"{server.base_url}/trackings/get"
        assert (
            session.get(url, headers={"Trackingmore-Api-Key": KEY}, timeout=5).json()["meta"]["code"] == 200
        )
        server.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(url, headers={"Trackingmore-Api-Key": KEY}, timeout=5)


def test_optional_penalty_keeps_refusing_a_key_after_its_429() -> None:
    config = SandboxConfig(trackings=20, seed=1, list_rate_per_s=4.0, rate_penalty_s=0.6)
    with SandboxServer(config).running() as server:
        assert get_page(server)["meta"]["code"] == 200
        assert get_page(server)["meta"]["code"] == 429  # penalty starts now
        time.sleep(0.35)  # the spacing rule alone would serve this one
        assert get_page(server)["meta"]["code"] == 429
        time.sleep(0.35)
        assert get_page(server)["meta"]["code"] == 200
