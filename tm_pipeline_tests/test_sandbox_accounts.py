"""Several accounts in one sandbox (`separate_accounts`): each key lists its own shipments over
real HTTP, has its own ground truth, and keeps its own rate limit and 429 counter."""

from __future__ import annotations

import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer, key_fingerprint


def _ids(server: SandboxServer, key: str) -> list[str]:
    response = requests.get(
        f"{server.base_url}/trackings/get", params={"limit": 2000}, headers={"Trackingmore-Api-Key": key}, timeout=10
    )
    assert response.status_code == 200
    return [item["id"] for item in response.json()["data"]["items"]]


def test_each_key_lists_its_own_account_and_has_its_own_truth() -> None:
    config = SandboxConfig(trackings=300, seed=5, api_keys=("key-a", "key-b"), separate_accounts=True,
                           list_rate_per_s=None)
    with SandboxServer(config).running() as server:
        server.add_api_key("key-later")
        listed = {key: _ids(server, key) for key in ("key-a", "key-b", "key-later")}
        truth = {key: [item["id"] for item in server.truth_trackings(api_key=key)] for key in ("key-a", "key-b")}
        metrics = {key: server.expected_metrics(api_key=key)["delivery_time_by_carrier"] for key in ("key-a", "key-b")}
    assert len(listed["key-a"]) == len(listed["key-b"]) == 300
    assert not set(listed["key-a"]) & set(listed["key-b"])
    assert listed["key-a"] == truth["key-a"] and listed["key-b"] == truth["key-b"]
    assert listed["key-later"] == listed["key-a"]  # a key added later shares the first account
    assert metrics["key-a"] != metrics["key-b"]


def test_one_keys_429s_do_not_touch_another_keys_budget() -> None:
    config = SandboxConfig(trackings=50, seed=5, api_keys=("key-a", "key-b"), separate_accounts=True,
                           list_rate_per_s=1.0, rate_tolerance_s=0.0)
    with SandboxServer(config).running() as server:
        codes_a = [
            requests.get(f"{server.base_url}/trackings/get", headers={"Trackingmore-Api-Key": "key-a"}, timeout=10)
            .json()["meta"]["code"]
            for _ in range(3)
        ]
        code_b = requests.get(
            f"{server.base_url}/trackings/get", headers={"Trackingmore-Api-Key": "key-b"}, timeout=10
        ).json()["meta"]["code"]
        refused = server.stats()["list_429_per_key"]
    assert codes_a[0] == 200 and 429 in codes_a[1:]
    assert code_b == 200
    assert isinstance(refused, dict)
    assert refused.get(key_fingerprint("key-a"), 0) >= 1 and refused.get(key_fingerprint("key-b"), 0) == 0
