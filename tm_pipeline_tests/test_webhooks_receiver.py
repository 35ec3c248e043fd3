"""The webhook receiver over real HTTP on 127.0.0.1: what it lands, what it refuses and how it says so.

Bodies are built from the session sandbox's real trackings; signatures are computed here from the
API description (hex HMAC-SHA256 of the timestamp, keyed by the secret), independently of the
receiver's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tm_pipeline.cli import main
from tm_pipeline.landing.push_rejections import read_rejections
from tm_pipeline.landing.pushes import read_records, segment_names
from tm_pipeline.sandbox import SandboxServer
from tm_pipeline.webhooks.config import PATH_TOKEN_VAR, ReceiverConfig
from tm_pipeline.webhooks.serve import ReceiverThread

TOKEN = "token-" + "x" * 26
SECRET = "ops@shop.example"
MAX_BODY = 64 * 1024


def _signature(secret: str, timestamp: str) -> str:
    return hmac.new(secret.encode(), timestamp.encode(), hashlib.sha256).hexdigest()


def v2_push(tracking: dict, secret: str | None = SECRET, at: float | None = None) -> bytes:
    document: dict = {"meta": {"code": 200, "type": "Success", "message": "Success"}, "data": tracking}
    if secret is not None:
        time_str = str(int(time.time() if at is None else at))
        document["verifyInfo"] = {"timeStr": time_str, "signature": _signature(secret, time_str)}
    return json.dumps(document).encode()


def landed(lake_root: Path) -> list:
    return [
        record
        for segment in segment_names(lake_root)
        for record in read_records(lake_root, segment, 0, (lake_root / "pushes" / segment).stat().st_size)
    ]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverThread]:
    config = ReceiverConfig(path_token=TOKEN, secret=SECRET, max_body_bytes=MAX_BODY)
    with ReceiverThread(config, tmp_path / "lake") as running:
        yield running


@pytest.fixture(scope="module")
def trackings(sandbox: SandboxServer) -> list[dict]:
    return sandbox.truth_trackings()[:5]


def test_a_signed_v2_push_is_in_the_push_log_byte_for_byte_when_answered_200(
    receiver: ReceiverThread, trackings: list[dict]
) -> None:
    body = v2_push(trackings[0])
    answer = requests.post(receiver.url, data=body, timeout=10)
    assert answer.status_code == 200
    (record,) = landed(receiver.receiver.lake_root)
    assert record.body == body and record.shape == "v2" and record.tracking_id == trackings[0]["id"]
    assert receiver.receiver.push_log.fsyncs >= 1


def test_a_v4_push_signed_in_headers_is_landed(receiver: ReceiverThread, trackings: list[dict]) -> None:
    tracking = {
        "id": trackings[1]["id"], "tracking_number": "LX1", "courier_code": "usps", "delivery_status": "transit"
    }
    body = json.dumps({"code": 200, "data": tracking}).encode()
    timestamp = str(int(time.time()))
    headers = {"timestamp": timestamp, "signature": _signature(SECRET, timestamp)}
    assert requests.post(receiver.url, data=body, headers=headers, timeout=10).status_code == 200
    (record,) = landed(receiver.receiver.lake_root)
    assert record.shape == "v4" and record.body == body


def _bad_inputs(tracking: dict) -> dict[str, tuple[bytes, dict, str, int, str]]:
    """case -> (body, headers, path, expected status, expected reason)"""
    unsigned = v2_push(tracking, secret=None)
    forged = json.loads(v2_push(tracking))
    forged["verifyInfo"]["signature"] = _signature("attacker@evil.example", forged["verifyInfo"]["timeStr"])
    without_id = {key: value for key, value in tracking.items() if key != "id"}
    return {
        "oversize": (b'{"data": "' + b"x" * MAX_BODY + b'"}', {}, TOKEN, 413, "too_large"),
        "not_json": (b"<html>hello</html>", {}, TOKEN, 400, "not_json"),
        "json_but_not_an_object": (b'["a"]', {}, TOKEN, 400, "not_json"),
        "no_data": (b'{"meta": {"code": 200}}', {}, TOKEN, 422, "wrong_shape"),
        "tracking_without_id": (v2_push(without_id), {}, TOKEN, 422, "wrong_shape"),
        "missing_signature": (unsigned, {}, TOKEN, 401, "signature_missing"),
        "bad_signature": (json.dumps(forged).encode(), {}, TOKEN, 401, "signature_invalid"),
        "stale_timestamp": (v2_push(tracking, at=time.time() - 3600), {}, TOKEN, 401, "stale_timestamp"),
        "wrong_path_token": (v2_push(tracking), {}, "token-" + "y" * 26, 404, "wrong_path_token"),
    }


@pytest.mark.parametrize("case", sorted(_bad_inputs({"id": "x"})))
def test_a_bad_push_is_refused_with_its_status_recorded_and_the_receiver_stays_up(
    receiver: ReceiverThread, trackings: list[dict], case: str
) -> None:
    body, headers, token, status, reason = _bad_inputs(trackings[2])[case]
    answer = requests.post(f"{receiver.base_url}/webhooks/{token}", data=body, headers=headers, timeout=10)
    assert answer.status_code == status
    assert answer.json()["error"] == reason
    assert landed(receiver.receiver.lake_root) == []
    (rejection,) = read_rejections(receiver.receiver.lake_root)
    assert rejection["reason"] == reason and rejection["status"] == status
    assert len(rejection["body_prefix"]) <= 256  # a bounded record, never the whole body
    # Still up, and still landing good pushes.
    assert requests.get(f"{receiver.base_url}/healthz", timeout=10).json()["refused"] == {reason: 1}
    assert requests.post(receiver.url, data=v2_push(trackings[2]), timeout=10).status_code == 200


def test_refusals_never_record_the_token_or_the_secret(
    receiver: ReceiverThread, trackings: list[dict], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for body, headers, token, _, _ in _bad_inputs(trackings[3]).values():
        requests.post(f"{receiver.base_url}/webhooks/{token}", data=body, headers=headers, timeout=10)
    requests.post(receiver.url, data=v2_push(trackings[3]), timeout=10)
    recorded = b"".join(p.read_bytes() for p in (receiver.receiver.lake_root / "pushes_rejected").iterdir())
    assert len(read_rejections(receiver.receiver.lake_root)) == len(_bad_inputs(trackings[3]))
    # The test's own HTTP client logs URLs; what must stay clean is what the server side logs.
    server_logs = "\n".join(
        r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("tm_pipeline", "uvicorn", "starlette")
    )
    assert "push refused" in server_logs
    for secret in (TOKEN, SECRET):
        assert secret.encode() not in recorded
        assert secret not in server_logs


def test_a_client_over_its_rate_gets_429_with_retry_after(tmp_path: Path, trackings: list[dict]) -> None:
    config = ReceiverConfig(path_token=TOKEN, secret=None, client_rate_per_s=0.001, client_burst=3)
    with ReceiverThread(config, tmp_path / "lake") as running:
        answers = [requests.post(running.url, data=v2_push(trackings[0], secret=None), timeout=10) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert running.receiver.refused["rate_limited"] == 2
        assert len(landed(running.receiver.lake_root)) == 3


def test_a_push_that_cannot_be_written_is_503_so_trackingmore_retries(
    receiver: ReceiverThread, trackings: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing disk cannot be provoked on a tmp dir, so the push log's append is made to fail."""

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(receiver.receiver.push_log, "append", disk_full)
    answer = requests.post(receiver.url, data=v2_push(trackings[4]), timeout=10)
    assert answer.status_code == 503 and answer.json()["error"] == "write_failed"
    monkeypatch.undo()
    assert requests.post(receiver.url, data=v2_push(trackings[4]), timeout=10).status_code == 200


def test_the_receiver_refuses_to_start_without_a_path_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv(PATH_TOKEN_VAR, raising=False)
    assert main(["webhook", "--data-dir", str(tmp_path), "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert PATH_TOKEN_VAR in error and "secrets.token_urlsafe" in error
    monkeypatch.setenv(PATH_TOKEN_VAR, "short")
    assert main(["webhook", "--data-dir", str(tmp_path), "--port", "0"]) == 2
    assert "at least 16" in capsys.readouterr().err
