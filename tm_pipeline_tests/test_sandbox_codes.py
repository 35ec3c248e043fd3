"""Every meta code of the v2 table (§6), provoked over real HTTP by the input that causes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "sandbox-key"
UNTHROTTLED = dict(list_rate_per_s=None, other_rate_per_s=None, realtime_rate_per_s=None)
EXPECTED_TYPES = {
    200: "Success",
    201: "Created",
    202: "Bad Request",
    4001: "Unauthorized",
    4002: "Unauthorized",
    4012: "Bad Request",
    4013: "Bad Request",
    4014: "Bad Request",
    4015: "Bad Request",
    4016: "Bad Request",
    4017: "Bad Request",
    4018: "Bad Request",
    4019: "Bad Request",
    4020: "Bad Request",
    4021: "Bad Request",
    4031: "No Content",
    4032: "No Content",
    4033: "No Content",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Server error",
    503: "Service Unavailable",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(trackings=200, seed=3, deleted_api_keys=("old-key",), **UNTHROTTLED)
    with SandboxServer(config).running() as server:
        yield server


def call(server: SandboxServer, method: str, path: str, key: str | None = KEY, **kwargs: object) -> dict:
    headers = {"Trackingmore-Api-Key": key} if key is not None else {}
    response = requests.request(method, server.base_url + path, headers=headers, timeout=10, **kwargs)
    assert response.status_code == 200, "v2 signals errors in meta.code with HTTP 200"
    return response.json()


def assert_error(body: dict, code: int) -> None:
    assert body["meta"]["code"] == code
    assert body["meta"]["type"] == EXPECTED_TYPES[code]
    assert isinstance(body["meta"]["message"], str) and body["meta"]["message"]
    assert body["data"] == []


SAMPLE = {"tracking_number": "1Z999AA10123456784", "carrier_code": "ups"}

SIMPLE_CASES = [
    (4001, "GET", "/trackings/get", {"key": "nobody"}),
    (4001, "GET", "/carriers", {"key": None}),
    (4002, "GET", "/trackings/get", {"key": "old-key"}),
    (4012, "POST", "/trackings/post", {"data": "tracking_number=1"}),
    (4012, "POST", "/trackings/batch", {"json": {"not": "an array"}}),
    (4012, "GET", "/trackings/get", {"params": {"created_at_min": "yesterday"}}),
    (4013, "POST", "/trackings/post", {"json": {"carrier_code": "ups"}}),
    (4013, "POST", "/carriers/detect", {"json": {}}),
    (
        4014,
        "POST",
        "/trackings/post",
        {"json": {"tracking_number": "no spaces allowed", "carrier_code": "ups"}},
    ),
    (4014, "GET", "/trackings/ups/x", {}),
    (
        4015,
        "POST",
        "/trackings/post",
        {"json": {"tracking_number": "1Z999AA10123456784", "carrier_code": "nope"}},
    ),
    (4015, "GET", "/trackings/nope/1Z999AA10123456784", {}),
    (4017, "PUT", "/trackings/ups/1Z000000000000000", {"json": {"title": "x"}}),
    (4017, "DELETE", "/trackings/ups/1Z000000000000000", {}),
    (4020, "POST", "/trackings/batch", {"json": [SAMPLE] * 41}),
    (4020, "POST", "/trackings/delete", {"json": [SAMPLE] * 201}),
    (4020, "GET", "/trackings/get", {"params": {"numbers": ",".join(f"N{i:05d}" for i in range(41))}}),
    (4031, "GET", "/trackings/ups/1Z000000000000000", {}),
    (4031, "GET", "/trackings/get", {"params": {"numbers": "1Z000000000000000"}}),
    (4032, "POST", "/carriers/detect", {"json": {"tracking_number": "HELLO-WORLD"}}),
    (4032, "POST", "/trackings/post", {"json": {"tracking_number": "HELLO-WORLD"}}),
    (4033, "GET", "/trackings/get", {"params": {"status": "lost"}}),
    (404, "GET", "/trackings/nothing-here", {}),
    (404, "GET", "/unknown", {}),
    (405, "POST", "/trackings/get", {}),
    (405, "GET", "/trackings/post", {}),
]


@pytest.mark.parametrize(
    ("code", "method", "path", "kwargs"),
    SIMPLE_CASES,
    ids=[f"{case[0]}-{case[1]}-{case[2]}" for case in SIMPLE_CASES],
)
def test_error_code_is_provoked_by_its_cause(
    sandbox: SandboxServer, code: int, method: str, path: str, kwargs: dict
) -> None:
    assert_error(call(sandbox, method, path, **kwargs), code)


def test_200_success_envelope(sandbox: SandboxServer) -> None:
    body = call(sandbox, "GET", "/carriers")
    assert body["meta"] == {"code": 200, "type": "Success", "message": "Success"}
    assert {"ups", "china-post"} <= {courier["code"] for courier in body["data"]}


def test_4016_when_the_tracking_already_exists(sandbox: SandboxServer) -> None:
    item = {"tracking_number": "1Z16AAAA0000000001", "carrier_code": "ups"}
    assert call(sandbox, "POST", "/trackings/post", json=item)["meta"]["code"] == 200
    assert_error(call(sandbox, "POST", "/trackings/post", json=item), 4016)


def test_4033_when_put_sets_a_status_other_than_4_7_8(sandbox: SandboxServer) -> None:
    existing = sandbox.truth_trackings()[0]
    body = call(
        sandbox,
        "PUT",
        f"/trackings/{existing['carrier_code']}/{existing['tracking_number']}",
        json={"status": 5},
    )
    assert_error(body, 4033)


def test_200_when_a_batch_is_fully_added_and_201_when_partly(sandbox: SandboxServer) -> None:
    """§2: a batch answers meta 200 or 201 (what v2 clients accept), refused items in data.errors."""
    fresh = [{"tracking_number": f"1Z201AAAA00000000{i}", "carrier_code": "ups"} for i in range(2)]
    added = call(sandbox, "POST", "/trackings/batch", json=fresh)
    assert (added["meta"]["code"], added["meta"]["type"], added["data"]["added"]) == (200, "Success", 2)
    assert added["data"]["errors"] == []
    partial = call(
        sandbox,
        "POST",
        "/trackings/batch",
        json=fresh[:1] + [{"tracking_number": "LK000000011CN", "carrier_code": "china-post"}],
    )
    assert (partial["meta"]["code"], partial["meta"]["type"]) == (201, "Created")
    assert partial["data"]["added"] == 1 and partial["data"]["errors"][0]["code"] == 4016
    assert partial["data"]["errors"][0]["tracking_number"] == "1Z201AAAA000000000"


def test_a_create_answer_echoes_the_submitted_fields_plus_id_created_at_status(sandbox: SandboxServer) -> None:
    """§2: the create answer is what was sent, plus id, created_at and status; nothing else."""
    sent = {"tracking_number": "1Z201AAAA000000077", "carrier_code": "ups", "order_id": "#77", "title": "mug"}
    one = call(sandbox, "POST", "/trackings/post", json=sent)["data"]
    assert set(one) == set(sent) | {"id", "created_at", "status"}
    assert {name: one[name] for name in sent} == sent and one["status"] == "pending"
    assert one["created_at"] == sandbox.store.now_iso()
    batch = call(sandbox, "POST", "/trackings/batch", json=[{"tracking_number": "LK000000039CN"}])["data"]
    detected = batch["trackings"][0]
    assert set(detected) == {"tracking_number", "carrier_code", "id", "created_at", "status"}
    assert detected["carrier_code"] == "china-post"  # detected, and named so the client learns it
    listed = {t["tracking_number"]: t for t in sandbox.truth_trackings()}
    assert listed["1Z201AAAA000000077"]["id"] == one["id"] and listed["1Z201AAAA000000077"]["order_id"] == "#77"


def test_billing_switch_makes_creation_answer_4021_then_4019(sandbox: SandboxServer) -> None:
    """The admin endpoint sets quota and balance at run time, so clients can be tested against refusals."""
    admin = requests.post(sandbox.base_url.removesuffix("/v2") + "/_sandbox/account", json={"quota": 0}, timeout=10)
    assert admin.json() == {"balance": None, "quota": 0}
    try:
        items = [{"tracking_number": "1Z201AAAA000000088", "carrier_code": "ups"}]
        quota = call(sandbox, "POST", "/trackings/batch", json=items)
        assert quota["meta"]["code"] == 201 and quota["data"]["errors"][0]["code"] == 4021
        sandbox.set_billing(quota=None, balance=0)
        assert_error(call(sandbox, "POST", "/trackings/post", json=items[0]), 4019)
        bad = requests.post(sandbox.base_url.removesuffix("/v2") + "/_sandbox/account", json={"money": 1}, timeout=10)
        assert bad.status_code == 400 and "money" in bad.json()["error"]
    finally:
        sandbox.set_billing(quota=None, balance=None)
    assert call(sandbox, "POST", "/trackings/post", json=items[0])["meta"]["code"] == 200


def test_202_when_realtime_asks_for_the_same_shipment_within_two_hours(sandbox: SandboxServer) -> None:
    item = {"tracking_number": "LK000000025CN", "carrier_code": "china-post"}
    first = call(sandbox, "POST", "/trackings/realtime", json=item)
    again = call(sandbox, "POST", "/trackings/realtime", json=item)
    assert first["meta"]["code"] == 200 and again["meta"]["code"] == 202
    assert again["data"]["items"][0]["tracking_number"] == "LK000000025CN"
    sandbox.advance_clock(2)
    assert call(sandbox, "POST", "/trackings/realtime", json=item)["meta"]["code"] == 200


def test_4018_when_realtime_is_not_activated() -> None:
    with SandboxServer(SandboxConfig(trackings=5, realtime_enabled=False, **UNTHROTTLED)).running() as server:
        assert_error(call(server, "POST", "/trackings/realtime", json=SAMPLE), 4018)


@pytest.mark.parametrize(("setting", "code"), [("balance", 4019), ("quota", 4021)])
def test_creation_spends_balance_and_quota_until_refused(setting: str, code: int) -> None:
    config = SandboxConfig(trackings=5, **{setting: 1}, **UNTHROTTLED)
    with SandboxServer(config).running() as server:
        assert call(server, "POST", "/trackings/post", json=SAMPLE)["meta"]["code"] == 200
        second = {"tracking_number": "1Z999AA10123456785", "carrier_code": "ups"}
        assert_error(call(server, "POST", "/trackings/post", json=second), code)


def test_429_on_list_realtime_and_other_endpoints_per_key() -> None:
    config = SandboxConfig(trackings=5, list_rate_per_s=1.0, realtime_rate_per_s=3.0, other_rate_per_s=1.0)
    with SandboxServer(config).running() as server:
        assert call(server, "GET", "/trackings/get")["meta"]["code"] == 200
        assert_error(call(server, "GET", "/trackings/get"), 429)
        assert call(server, "GET", "/carriers")["meta"]["code"] == 200
        assert_error(call(server, "GET", "/trackings/getuserinfo"), 429)
        realtime = [
            call(
                server,
                "POST",
                "/trackings/realtime",
                json={**SAMPLE, "tracking_number": f"1Z429AAAA0000000{i}"},
            )
            for i in range(2)
        ]
        assert realtime[-1]["meta"]["code"] == 429
        assert server.stats()["served_429"] == 3


@pytest.mark.parametrize("code", [500, 503, 409, 402, 403])
def test_server_side_codes_come_from_fault_injection(code: int) -> None:
    faults = {"error_rates": {str(code): 1.0}}
    with SandboxServer(SandboxConfig(trackings=5, **UNTHROTTLED)).running() as server:
        server.set_faults(faults)
        assert_error(call(server, "GET", "/trackings/get"), code)
        assert server.stats()["faults"] == {f"error_{code}": 1}


def test_mirrored_http_status_when_configured() -> None:
    config = SandboxConfig(trackings=5, mirror_http_status=True, **UNTHROTTLED)
    with SandboxServer(config).running() as server:

        def status(path: str, key: str = KEY) -> int:
            return requests.get(
                server.base_url + path, headers={"Trackingmore-Api-Key": key}, timeout=10
            ).status_code

        assert status("/trackings/get") == 200
        assert status("/trackings/get", key="nobody") == 401
        assert status("/trackings/get?status=lost") == 400
        assert status("/trackings/ups/1Z000000000000000") == 404
        assert status("/nowhere") == 404


def test_a_key_deleted_at_runtime_answers_4002() -> None:
    with SandboxServer(SandboxConfig(trackings=5, **UNTHROTTLED)).running() as server:
        server.add_api_key("short-lived")
        assert call(server, "GET", "/carriers", key="short-lived")["meta"]["code"] == 200
        server.delete_api_key("short-lived")
        assert_error(call(server, "GET", "/carriers", key="short-lived"), 4002)
