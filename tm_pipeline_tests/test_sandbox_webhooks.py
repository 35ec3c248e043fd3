"""Sandbox pushes: what a clock advance sends, in which shape, signed how, retried how, with which faults.

A small sandbox of its own per test (pushes follow its clock, which the session sandbox's other
users must not see move) and a real receiver on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tm_pipeline.landing.pushes import complete_end, read_records, segment_names
from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.webhooks.config import ReceiverConfig
from tm_pipeline.webhooks.serve import ReceiverThread

TOKEN = "sandbox-pushes-" + "t" * 20
SECRET = "ops@shop.example"


@pytest.fixture
def small_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(trackings=400, seed=3)).running() as server:
        yield server


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverThread]:
    with ReceiverThread(ReceiverConfig(path_token=TOKEN, secret=SECRET), tmp_path / "lake") as running:
        yield running


def _landed(root: Path) -> list:
    return [r for s in segment_names(root) for r in read_records(root, s, 0, complete_end(root / "pushes" / s))]


def test_an_advance_pushes_each_changed_tracking_signed_and_every_200_is_landed(
    small_sandbox: SandboxServer, receiver: ReceiverThread
) -> None:
    small_sandbox.configure_webhook({"url": receiver.url, "secret": SECRET})
    advanced = small_sandbox.advance_clock(12)
    assert small_sandbox.webhook is not None and small_sandbox.webhook.wait_idle(30)
    stats = small_sandbox.webhook.stats()
    assert advanced["changed"] > 0
    landed = _landed(receiver.receiver.lake_root)
    truth = {t["id"]: t for t in small_sandbox.truth_trackings()}
    assert stats["answers"] == {"200": len(landed)}
    for record in landed:  # each push carries the tracking as the list endpoint serves it now
        assert json.loads(record.body)["data"] == truth[record.tracking_id]
    assert len({r.tracking_id for r in landed}) == len(landed) >= advanced["created"]


def test_v4_pushes_carry_v4_names_and_header_signatures(small_sandbox: SandboxServer, receiver: ReceiverThread) -> None:
    small_sandbox.configure_webhook({"url": receiver.url, "secret": SECRET, "shape": "v4"})
    small_sandbox.advance_clock(12)
    assert small_sandbox.webhook is not None and small_sandbox.webhook.wait_idle(30)
    landed = _landed(receiver.receiver.lake_root)
    assert landed and {r.shape for r in landed} == {"v4"}
    tracking = json.loads(landed[0].body)["data"]
    assert {"courier_code", "delivery_status", "update_at"} <= tracking.keys() and "carrier_code" not in tracking


def test_a_refused_push_is_retried_with_backoff_then_given_up(small_sandbox: SandboxServer) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    small_sandbox.configure_webhook(
        {"url": f"http://127.0.0.1:{port}/webhooks/x", "retries": 3, "backoff_s": 0.01, "senders": 1}
    )
    advanced = small_sandbox.advance_clock(2)
    assert small_sandbox.webhook is not None and small_sandbox.webhook.wait_idle(30)
    stats = small_sandbox.webhook.stats()
    pushes = advanced["changed"] + advanced["created"]
    assert pushes > 0
    assert stats["answers"] == {"connection_failed": 4 * pushes}  # the first try and 3 retries each
    assert stats["counts"]["gave_up"] == pushes


def test_seeded_faults_send_duplicates_reordered_forged_and_garbage_pushes(
    small_sandbox: SandboxServer, receiver: ReceiverThread
) -> None:
    small_sandbox.configure_webhook({
        "url": receiver.url, "secret": SECRET, "seed": 1, "duplicate_rate": 0.3, "reorder_rate": 0.3,
        "bad_signature_rate": 0.2, "garbage_rate": 0.2,
    })
    small_sandbox.advance_clock(12)
    small_sandbox.advance_clock(12)
    assert small_sandbox.webhook is not None
    small_sandbox.webhook.flush_held_back()
    assert small_sandbox.webhook.wait_idle(60)
    stats = small_sandbox.webhook.stats()
    assert stats["counts"]["duplicated"] > 0 and stats["counts"]["reordered"] > 0
    assert set(stats["answers"]) == {"200"}  # genuine pushes, duplicates included, all landed
    forged = stats["forged_answers"]
    assert forged.get("401", 0) > 0 and forged.get("400", 0) + forged.get("413", 0) + forged.get("422", 0) > 0
    assert set(forged) <= {"400", "401", "413", "422"}
    refused = requests.get(receiver.base_url + "/healthz", timeout=10).json()["refused"]
    assert sum(refused.values()) == sum(forged.values())


def test_the_webhook_is_configured_over_http_without_showing_the_secret(small_sandbox: SandboxServer) -> None:
    admin = small_sandbox.base_url.removesuffix("/v2") + "/_sandbox/webhook"
    shown = requests.post(admin, json={"url": "http://127.0.0.1:9/webhooks/x", "secret": SECRET}, timeout=10).json()
    assert shown["config"]["secret"] == "<set>" and SECRET not in json.dumps(shown)
    refused = requests.post(admin, json={"url": "ftp://x", "shape": "v9"}, timeout=10)
    assert refused.status_code == 400 and "shape" in refused.json()["error"]
    assert requests.post(admin, json={}, timeout=10).json() == {"config": None}


def test_pushes_after_an_idle_gap_reconnect_instead_of_failing(small_sandbox: SandboxServer, tmp_path: Path) -> None:
    """The receiver closes idle keep-alive connections (here after 1 s): the next advance's pushes
    must not fail on them (and wait a backoff), they open new connections."""
    config = ReceiverConfig(path_token=TOKEN, secret=None)
    with ReceiverThread(config, tmp_path / "lake", keep_alive_s=1) as running:
        small_sandbox.configure_webhook({"url": running.url, "senders": 2, "backoff_s": 30})
        assert small_sandbox.webhook is not None
        small_sandbox.advance_clock(12)
        assert small_sandbox.webhook.wait_idle(30)
        time.sleep(2.5)  # longer than the receiver's keep-alive: it closes both connections
        small_sandbox.advance_clock(12)
        assert small_sandbox.webhook.wait_idle(20)
        stats = small_sandbox.webhook.stats()
    assert set(stats["answers"]) == {"200"} and stats["counts"]["delivered"] == len(_landed(tmp_path / "lake"))
