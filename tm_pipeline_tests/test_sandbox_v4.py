"""The sandbox's /v4 over real HTTP: v4's header, envelope, codes, paging and limit, serving the
same shipments (and so the same ground truth) as /v2."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "sandbox-v4-key"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(trackings=120, seed=9, api_keys=(KEY,), v4_list_rate_per_s=None)
    with SandboxServer(config).running() as running:
        yield running


def _get(server: SandboxServer, key: str | None = KEY, **query: object) -> requests.Response:
    headers = {} if key is None else {"Tracking-Api-Key": key}
    return requests.get(f"{server.base_url_v4}/trackings/get", params=query, headers=headers, timeout=10)


def test_pages_walk_the_same_trackings_in_the_same_order_as_v2(server: SandboxServer) -> None:
    ids = []
    for page in range(1, 5):
        body = _get(server, pages_amount=page, items_amount=40).json()
        assert body["meta"] == {"code": 200, "message": "Request response is successful"}
        assert isinstance(body["data"], list), "v4's data is a bare array: no page or total fields"
        ids += [item["id"] for item in body["data"]]
    assert ids == [item["id"] for item in server.truth_trackings()], "three full pages, then an empty fourth"


def test_items_carry_v4_keys_and_the_v2_facts(server: SandboxServer) -> None:
    v2_by_id = {item["id"]: item for item in server.truth_trackings()}
    for item in _get(server, items_amount=100).json()["data"]:
        v2 = v2_by_id[item["id"]]
        assert item["courier_code"] == v2["carrier_code"] and "carrier_code" not in item
        assert item["update_at"] == v2["updated_at"] and "updated_at" not in item
        assert item["delivery_status"] == str(v2["status"]).lower()
        assert item["archived"] == ("true" if v2["archived"] else "tracking")
        v2_checkpoints = (v2["origin_info"] or {}).get("trackinfo") or []
        v4_checkpoints = (item["origin_info"] or {}).get("trackinfo") or []
        assert [cp["tracking_detail"] for cp in v4_checkpoints] == [cp["StatusDescription"] for cp in v2_checkpoints]


def test_a_missing_or_unknown_key_is_401_in_v4s_envelope(server: SandboxServer) -> None:
    for key in (None, "not-a-key"):
        response = _get(server, key=key)
        assert response.status_code == 401
        assert response.json()["meta"]["code"] == 401 and "type" not in response.json()["meta"]


def test_the_v2_header_is_not_a_v4_key(server: SandboxServer) -> None:
    response = requests.get(
        f"{server.base_url_v4}/trackings/get", headers={"Trackingmore-Api-Key": KEY}, timeout=10
    )
    assert response.status_code == 401


@pytest.mark.parametrize("query", [{"items_amount": 201}, {"pages_amount": -1}, {"created_date_min": "yesterday"}])
def test_a_bad_paging_or_filter_value_is_meta_400(server: SandboxServer, query: dict[str, object]) -> None:
    response = _get(server, **query)
    assert (response.status_code, response.json()["meta"]["code"]) == (400, 400)


def test_date_filters_are_iso_8601_and_select_as_v2s_unix_seconds(server: SandboxServer) -> None:
    v2 = requests.get(
        f"{server.base_url}/trackings/get", params={"created_at_min": 1714521600, "limit": 2000},
        headers={"Trackingmore-Api-Key": KEY}, timeout=10,
    ).json()["data"]["items"]
    v4 = _get(server, created_date_min="2024-05-01T08:00:00+08:00", items_amount=200).json()["data"]
    assert [item["id"] for item in v4] == [item["id"] for item in v2] and v2


def test_an_unknown_v4_path_is_404(server: SandboxServer) -> None:
    response = requests.get(f"{server.base_url_v4}/trackings/nope", headers={"Tracking-Api-Key": KEY}, timeout=10)
    assert (response.status_code, response.json()["meta"]["code"]) == (404, 404)


def test_v4_list_is_limited_to_10_per_second_per_key() -> None:
    """Strict mode: five requests sent at once arrive within 1/10 s, so all but the first are
    refused (no tolerance), and the 429s are the server's own count."""
    config = SandboxConfig.strict(trackings=20, api_keys=(KEY,), rate_penalty_s=0.5, handshake_delay_s=0.0)
    with SandboxServer(config).running() as strict, ThreadPoolExecutor(max_workers=5) as senders:
        codes = sorted(senders.map(lambda _: _get(strict).status_code, range(5)))
        assert codes == [200, 429, 429, 429, 429]
        assert sum(strict.stats()["v4_list_429_per_key"].values()) == 4
        assert config.v4_list_rate_per_s == 10.0
