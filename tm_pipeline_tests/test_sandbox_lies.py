"""The sandbox's list lies: a wrong `total` and malformed items, served over HTTP and counted."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.sandbox.faults import FaultConfig

HEADERS = {"Trackingmore-Api-Key": "sandbox-key"}
TRACKINGS = 250


@pytest.fixture()
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(trackings=TRACKINGS, seed=13, list_rate_per_s=None)
    with SandboxServer(config).running() as server:
        yield server


def _list(server: SandboxServer, **params: object) -> bytes:
    return requests.get(f"{server.base_url}/trackings/get", params=params, headers=HEADERS, timeout=5).content


def _total(body: bytes) -> int:
    return int(json.loads(body)["data"]["total"])


def test_total_override_and_scale_misreport_total_but_serve_every_row(sandbox: SandboxServer) -> None:
    sandbox.set_faults({"total_override": 99})
    assert _total(_list(sandbox, limit=100)) == 99
    served = sum(json.loads(_list(sandbox, limit=100, page=page))["data"]["count"] for page in (1, 2, 3, 4))
    assert served == len(sandbox.truth_trackings()) == TRACKINGS
    sandbox.set_faults({"total_scale": 1.5})
    assert _total(_list(sandbox, limit=100)) == round(TRACKINGS * 1.5)
    assert sandbox.stats()["faults"]["total_misreported"] == 5  # 1 + 3 + 1; an empty page claims nothing


def test_malformed_items_are_served_at_their_list_positions(sandbox: SandboxServer) -> None:
    truth = sandbox.truth_trackings()
    sandbox.set_faults({"malformed_items": {
        "0": "lone_surrogate", "1": "not_object", "2": "id_number", "3": "id_missing", "120": "created_at_number",
    }})
    first = _list(sandbox, limit=100, page=1)
    assert b'"tracking_number":"\\ud800' + truth[0]["tracking_number"].encode() in first
    items = json.loads(first.replace(b"\\ud800", b""))["data"]["items"]
    assert items[1] == truth[1]["id"]
    assert isinstance(items[2]["id"], int)
    assert "id" not in items[3]
    assert items[4] == truth[4], "items not named are served as they are"
    second = json.loads(_list(sandbox, limit=100, page=2))["data"]["items"]
    assert isinstance(second[20]["created_at"], int)
    assert sandbox.truth_trackings() == truth, "the ground truth stays well formed"
    assert {name: count for name, count in sandbox.stats()["faults"].items() if name.startswith("malformed_")} == {
        "malformed_lone_surrogate": 1, "malformed_not_object": 1, "malformed_id_number": 1,
        "malformed_id_missing": 1, "malformed_created_at_number": 1,
    }


def test_an_unknown_mutation_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown malformed_items mutations.*id_missing"):
        FaultConfig(malformed_items={"0": "garbled"})
