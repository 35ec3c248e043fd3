"""Fault injection: transport failures a client must survive, reproducible and counted."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.sandbox.faults import FaultConfig

HEADERS = {"Trackingmore-Api-Key": "sandbox-key"}


@pytest.fixture()
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(trackings=300, seed=11, list_rate_per_s=None)
    with SandboxServer(config).running() as server:
        yield server


def list_url(server: SandboxServer) -> str:
    return f"{server.base_url}/trackings/get?limit=2000"


def test_connection_reset_raises_a_connection_error(sandbox: SandboxServer) -> None:
    sandbox.set_faults({"reset_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        requests.get(list_url(sandbox), headers=HEADERS, timeout=5)
    assert sandbox.stats()["faults"] == {"reset": 1}


def test_truncated_body_is_shorter_than_its_content_length(sandbox: SandboxServer) -> None:
    sandbox.set_faults({"truncate_rate": 1.0})
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(list_url(sandbox), headers=HEADERS, timeout=5).json()
    assert sandbox.stats()["faults"] == {"truncate": 1}


def test_timeout_holds_the_connection_past_the_client_timeout(sandbox: SandboxServer) -> None:
    sandbox.set_faults({"timeout_rate": 1.0, "timeout_hold_s": 1.0})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(list_url(sandbox), headers=HEADERS, timeout=0.3)


def test_latency_is_added_to_every_request(sandbox: SandboxServer) -> None:
    sandbox.set_faults({"latency_s": 0.3})
    started = time.monotonic()
    requests.get(list_url(sandbox), headers=HEADERS, timeout=5)
    assert time.monotonic() - started >= 0.3


def test_429_burst_refuses_the_next_n_list_requests(sandbox: SandboxServer) -> None:
    sandbox.set_faults({"burst_429": 2})
    codes = [
        requests.get(list_url(sandbox), headers=HEADERS, timeout=5).json()["meta"]["code"] for _ in range(3)
    ]
    assert codes == [429, 429, 200]
    stats = sandbox.stats()
    assert stats["served_429"] == 2 and stats["faults"] == {"burst_429": 2}


def test_gateway_error_is_an_html_page_with_a_real_http_status(sandbox: SandboxServer) -> None:
    sandbox.set_faults({"error_rates": {"502": 1.0}})
    response = requests.get(list_url(sandbox), headers=HEADERS, timeout=5)
    assert response.status_code == 502 and response.headers["Content-Type"] == "text/html"


def test_same_fault_seed_replays_the_same_sequence() -> None:
    faults = FaultConfig(error_rates={"500": 0.3, "503": 0.2}, seed=9)
    sequences = []
    for _ in range(2):
        with SandboxServer(
            SandboxConfig(trackings=20, list_rate_per_s=None, faults=faults)
        ).running() as server:
            with requests.Session() as session:
                sequences.append(
                    [
                        session.get(list_url(server), headers=HEADERS, timeout=5).json()["meta"]["code"]
                        for _ in range(30)
                    ]
                )
    assert sequences[0] == sequences[1]
    assert {200, 500, 503} == set(sequences[0])


def test_faults_are_configured_over_http(sandbox: SandboxServer) -> None:
    admin = sandbox.base_url.replace("/v2", "/_sandbox/faults")
    assert requests.post(admin, json={"error_rates": {"503": 1.0}}, timeout=5).json()["error_rates"] == {
        "503": 1.0
    }
    assert requests.get(list_url(sandbox), headers=HEADERS, timeout=5).json()["meta"]["code"] == 503
    assert requests.post(admin, json={"nonsense": 1}, timeout=5).status_code == 400
    assert requests.post(admin, json={}, timeout=5).status_code == 200
    assert requests.get(list_url(sandbox), headers=HEADERS, timeout=5).json()["meta"]["code"] == 200
