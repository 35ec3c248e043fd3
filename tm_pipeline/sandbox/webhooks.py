"""Sandbox pushes: POST each tracking the clock advance changed to a webhook URL, like TrackingMore.

Configured with `SandboxServer.configure_webhook` (or `POST /_sandbox/webhook`): URL, shape (v2
body-signed or v4 header-signed), optional secret, retry policy (up to `retries` retries after a
non-2xx or a connection failure, the n-th after `backoff_s × 2^n`: TrackingMore's v4 policy is 14
and 30 s; tests shorten it), and seeded faults:

- `duplicate_rate`: the push is sent twice (as a retry after a lost answer would be);
- `reorder_rate`: the push is held back and sent after the *next* advance's pushes, so an older
  state of a tracking arrives after a newer one;
- `bad_signature_rate`, `garbage_rate`: an extra forged push (wrong signature) or an extra
  garbage body (not JSON, wrong shape, oversize) is sent besides the genuine one; never retried.

Sender threads take pushes from a bounded queue (a full queue drops the push and counts it);
`stats()` says what was sent, what each answer was, and which bodies were answered 200
(`acknowledged_sha256`), so a test can prove each of them landed. The sandbox shares no code with
the receiver: the signature here is written from the API description, not imported.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from urllib.parse import urlsplit

import orjson

from .v4_render import v4_tracking  # the same v4 rendering the /v4 list endpoint serves

V2, V4 = "v2", "v4"
_GARBAGE = (
    b"this is not json",
    b'{"meta": {"code": 200}, "data": "not an object"}',
    b'["a", "list"]',
    b'{"data": {"id": "x"',
)


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    shape: str = V2
    secret: str | None = None
    retries: int = 14
    backoff_s: float = 30.0
    timeout_s: float = 10.0
    senders: int = 4
    queue_limit: int = 1_000_000
    seed: int = 0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    bad_signature_rate: float = 0.0
    garbage_rate: float = 0.0
    statuses: tuple[str, ...] | None = None  # push only these statuses (the account's choice); None = all

    def __post_init__(self) -> None:
        if self.shape not in (V2, V4):
            raise ValueError(f"shape must be 'v2' or 'v4', got {self.shape!r}")
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"url must be an http:// URL (the sandbox speaks plain HTTP), got {self.url!r}")
        if self.senders < 1 or self.retries < 0 or self.backoff_s < 0:
            raise ValueError("senders must be >= 1, retries and backoff_s >= 0")

    @classmethod
    def from_dict(cls, values: dict) -> WebhookConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown webhook settings: {sorted(unknown)}; known: {sorted(known)}")
        if values.get("statuses") is not None:
            values = {**values, "statuses": tuple(values["statuses"])}
        return cls(**values)

    def public(self) -> dict:
        shown = asdict(self)
        shown["secret"] = "<set>" if self.secret else None
        return shown


def sign(secret: str, timestamp: str) -> str:
    """hex HMAC-SHA256 of the timestamp string, keyed by the secret (API description §8)."""
    return hmac.new(secret.encode(), timestamp.encode(), hashlib.sha256).hexdigest()


@dataclass
class _Push:
    tracking_id: str
    item: bytes  # the v2 item as served at the advance
    forged: str | None = None  # None (genuine) | "bad_signature" | "garbage"


class WebhookSender:
    """Sender threads and their queue; `stop()` ends them (pushes still queued are counted as dropped)."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        parts = urlsplit(config.url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._rng = random.Random(config.seed)
        self._queue: queue.Queue[_Push] = queue.Queue(maxsize=config.queue_limit)
        self._held_back: list[_Push] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._in_flight = 0
        self._answers: Counter[str] = Counter()
        self._forged_answers: Counter[str] = Counter()
        self._counts: Counter[str] = Counter()
        self._acknowledged: list[str] = []
        self._latencies_ms: list[float] = []
        self._threads = [
            threading.Thread(target=self._run, name=f"sandbox-webhook-{n}", daemon=True) for n in range(config.senders)
        ]
        for thread in self._threads:
            thread.start()

    # --- producing -------------------------------------------------------------------------

    def trackings_changed(self, items: list[tuple[str, bytes, str]]) -> None:
        """Called by the clock advance with (tracking_id, item bytes, status) of each changed tracking."""
        rng, config = self._rng, self.config
        with self._lock:
            held, self._held_back = self._held_back, []
            batch: list[_Push] = []
            for tracking_id, item, status in items:
                if config.statuses is not None and status not in config.statuses:
                    self._counts["skipped_status"] += 1
                    continue
                push = _Push(tracking_id, item)
                if rng.random() < config.reorder_rate:
                    self._held_back.append(push)
                    self._counts["reordered"] += 1
                else:
                    batch.append(push)
                if rng.random() < config.duplicate_rate:
                    batch.append(_Push(tracking_id, item))
                    self._counts["duplicated"] += 1
                if rng.random() < config.bad_signature_rate and config.secret:
                    batch.append(_Push(tracking_id, item, "bad_signature"))
                if rng.random() < config.garbage_rate:
                    batch.append(_Push(tracking_id, item, "garbage"))
            batch.extend(held)  # last advance's held-back pushes go after this advance's newer ones
        for push in batch:
            self._enqueue(push)

    def flush_held_back(self) -> int:
        """Send the pushes held back for reordering now (there may be no next advance)."""
        with self._lock:
            held, self._held_back = self._held_back, []
        for push in held:
            self._enqueue(push)
        return len(held)

    def _enqueue(self, push: _Push) -> None:
        try:
            self._queue.put_nowait(push)
            with self._lock:
                self._counts["queued"] += 1
        except queue.Full:
            with self._lock:
                self._counts["dropped_queue_full"] += 1

    # --- sending ---------------------------------------------------------------------------

    def _body_and_headers(self, push: _Push) -> tuple[bytes, dict[str, str]]:
        config = self.config
        headers = {"Content-Type": "application/json"}
        if push.forged == "garbage":
            choice = self._rng.randrange(len(_GARBAGE) + 1)
            return (_GARBAGE[choice] if choice < len(_GARBAGE) else b"{" + b" " * 2_000_000 + b"}"), headers
        timestamp = str(int(time.time()))
        signature = sign(config.secret, timestamp) if config.secret else None
        if push.forged == "bad_signature":
            signature = "0" * 64
        if config.shape == V2:
            verify = b""
            if signature is not None:
                verify = b',"verifyInfo":' + orjson.dumps({"timeStr": timestamp, "signature": signature})
            body = b'{"meta":{"code":200,"type":"Success","message":"Success"},"data":' + push.item + verify + b"}"
            return body, headers
        body = orjson.dumps({"code": 200, "message": "Success", "data": v4_tracking(orjson.loads(push.item))})
        if signature is not None:
            headers.update({"timestamp": timestamp, "signature": signature})
        return body, headers

    def _post(self, connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> int:
        connection.request("POST", self._path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    def _post_reconnecting(
        self, connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]
    ) -> tuple[http.client.HTTPConnection, int]:
        """A kept-alive connection the receiver closed while idle fails on first use: like any HTTP
        client, send once more on a new connection before calling it a failed attempt."""
        reused = connection.sock is not None
        try:
            return connection, self._post(connection, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
        connection.close()
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self.config.timeout_s)
        return connection, self._post(connection, body, headers)

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self.config.timeout_s)
        while not self._stop.is_set():
            try:
                push = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            with self._lock:
                self._in_flight += 1
            try:
                connection = self._deliver(connection, push)
            finally:
                with self._lock:
                    self._in_flight -= 1
        connection.close()

    def _deliver(self, connection: http.client.HTTPConnection, push: _Push) -> http.client.HTTPConnection:
        attempts = 1 if push.forged else 1 + self.config.retries
        for attempt in range(attempts):
            if attempt and self._stop.wait(self.config.backoff_s * 2 ** (attempt - 1)):
                break
            body, headers = self._body_and_headers(push)
            started = time.perf_counter()
            try:
                connection, status = self._post_reconnecting(connection, body, headers)
                answer = str(status)
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(self._host, self._port, timeout=self.config.timeout_s)
                status, answer = 0, "connection_failed"
            latency_ms = (time.perf_counter() - started) * 1000
            with self._lock:
                (self._forged_answers if push.forged else self._answers)[answer] += 1
                self._counts["attempts"] += 1
                if 200 <= status < 300 and not push.forged:
                    self._acknowledged.append(hashlib.sha256(body).hexdigest())
                    self._latencies_ms.append(latency_ms)
                    self._counts["delivered"] += 1
            if push.forged or 200 <= status < 300:
                return connection
        with self._lock:
            self._counts["gave_up"] += 1
        return connection

    # --- watching --------------------------------------------------------------------------

    def idle(self) -> bool:
        with self._lock:
            return self._queue.empty() and self._in_flight == 0

    def wait_idle(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.02)
        return self.idle()

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {
                "config": self.config.public(),
                "counts": dict(self._counts),
                "answers": dict(self._answers),
                "forged_answers": dict(self._forged_answers),
                "held_back": len(self._held_back),
                "queued_now": self._queue.qsize(),
                "in_flight": self._in_flight,
                "acknowledged_sha256": list(self._acknowledged),
                "latencies_ms": list(self._latencies_ms),
            }

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=max(5.0, self.config.timeout_s + 1))
