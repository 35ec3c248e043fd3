"""HTTP client for TrackingMore (any version): one method per attempt, returning what the ledger records.

Retries and pacing live with the caller (`tm_pipeline.extract.fetch`), so that every attempt —
including the failed ones — becomes exactly one ledger row.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec
import requests
import urllib3

from tm_pipeline.api import failures
from tm_pipeline.api.envelope import ENVELOPE_DECODER, decode_tolerant
from tm_pipeline.api.errors import ConfigurationError
from tm_pipeline.api.send_timing import SendTimingAdapter, sent_on

API_KEY_HEADER = "Trackingmore-Api-Key"  # v2's; a ListEndpoint names its version's


def key_fingerprint(api_key: str) -> str:
    """A short, non-reversible name for a key, safe to show in logs and errors."""
    return "key#" + hashlib.sha256(api_key.encode()).hexdigest()[:8]


@dataclass
class Attempt:
    """What one HTTP attempt returned. `meta_code` is None when there was no envelope; `data` is
    what the decoder made of it (raw bytes with the generic decoder)."""

    http_status: int | None
    meta_code: int | None
    meta_type: str | None
    meta_message: str | None
    data: Any
    latency_ms: float
    response_bytes: int
    failure: str | None = None  # no envelope: one of the kinds in tm_pipeline.api.failures
    body_summary: str | None = None  # what came back instead of an envelope (never the body itself)
    # For the pacer (time.monotonic): when the request was on the wire, whether it opened a new
    # connection, and when the response headers arrived; sent_at None = unknown (it failed).
    sent_at: float | None = None
    new_connection: bool = True
    answered_at: float | None = None

    @property
    def code(self) -> int | None:
        """The code that decides what happens: meta.code when present, else the HTTP status."""
        return self.meta_code if self.meta_code is not None else self.http_status


class TrackingMoreClient:
    def __init__(
        self, base_url: str, api_key: str, timeout_s: float = 30.0, auth_header: str = API_KEY_HEADER
    ) -> None:
        """`auth_header` is the header the key travels in (v2 `Trackingmore-Api-Key`, v4
        `Tracking-Api-Key`: the endpoint's); the key is never put in a URL."""
        if not api_key:
            raise ConfigurationError(
                "No TrackingMore API key: set TRACKINGMORE_API_KEY (or run `tm-pipeline demo`, "
                "which uses the built-in sandbox)."
            )
        self.base_url = base_url.rstrip("/")
        self.origin = origin_of(self.base_url)
        self.envelopes_received = 0  # a host that answered with envelopes and then fails is having an outage
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.key_fingerprint = key_fingerprint(api_key)
        self._session = requests.Session()
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, SendTimingAdapter())
        self._session.headers.update(
            {auth_header: api_key, "Content-Type": "application/json", "Accept": "application/json"}
        )

    def close(self) -> None:
        self._session.close()

    def get(
        self, path: str, params: dict[str, Any], decoder: msgspec.json.Decoder[Any] = ENVELOPE_DECODER
    ) -> Attempt:
        """One GET attempt. Transport failures come back as an Attempt with `failure` set.

        `decoder` turns the body into `{meta, data}`; an endpoint-specific one decodes the body in a
        single pass (the generic one leaves `data` as raw bytes)."""
        url = f"{self.base_url}{path}"
        started = time.perf_counter()
        try:
            # Streaming, then one read of the whole body: a multi-megabyte page in one call instead
            # of requests' small-chunk loop, which cost a large share of the CPU per page.
            with self._session.get(url, params=params, timeout=self.timeout_s, stream=True) as response:
                answered_at = time.monotonic()  # headers are in; the body is not read yet
                sent_at, new_connection = sent_on(response)
                body = response.raw.read(decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            return _failed(failures.transport_failure(exc), started)
        latency_ms = (time.perf_counter() - started) * 1000.0
        attempt = parse_envelope(response.status_code, body, latency_ms, decoder)
        if attempt.meta_code is not None:
            self.envelopes_received += 1
        elif attempt.failure == failures.NOT_JSON:
            attempt.failure = failures.body_failure(body, response.raw.tell(), _content_length(response))
            if attempt.failure == failures.NOT_ENVELOPE:
                summary = failures.describe_body(body, response.headers.get("Content-Type"))
                attempt.body_summary = summary.replace(self._api_key, self.key_fingerprint)
        attempt.sent_at, attempt.new_connection, attempt.answered_at = sent_at, new_connection, answered_at
        return attempt

    def post(self, path: str, body: Any) -> Attempt:
        """One POST attempt with a JSON body; `data` comes back decoded to Python values.

        Bodies of create calls are small (at most 40 shipments), so they are read whole; transport
        failures come back as an Attempt with `failure` set, as for `get`."""
        url = f"{self.base_url}{path}"
        started = time.perf_counter()
        try:
            payload = msgspec.json.encode(body)
            with self._session.post(url, data=payload, timeout=self.timeout_s, stream=True) as response:
                answered_at = time.monotonic()
                sent_at, new_connection = sent_on(response)
                raw_body = response.raw.read(decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            return _failed(failures.transport_failure(exc), started)
        attempt = parse_envelope(response.status_code, raw_body, (time.perf_counter() - started) * 1000.0)
        if attempt.meta_code is not None:
            self.envelopes_received += 1
            try:
                attempt.data = msgspec.json.decode(bytes(attempt.data))
            except msgspec.DecodeError:
                attempt.data = None
        elif attempt.failure == failures.NOT_JSON:
            attempt.failure = failures.body_failure(raw_body, response.raw.tell(), _content_length(response))
        attempt.sent_at, attempt.new_connection, attempt.answered_at = sent_at, new_connection, answered_at
        return attempt


def origin_of(base_url: str) -> str:
    """`scheme://host:port` of a base URL: what error messages name (no credentials, path or query)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"TRACKINGMORE_BASE_URL must be an http(s) URL such as https://api.trackingmore.com/v2, "
            f"got one with scheme {parts.scheme!r} and host {parts.hostname!r}."
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigurationError(f"TRACKINGMORE_BASE_URL has an invalid port (host {host!r}).") from None
    return f"{parts.scheme}://{host}:{port}"


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _failed(kind: str, started: float) -> Attempt:
    return Attempt(None, None, None, None, None, (time.perf_counter() - started) * 1000.0, 0, failure=kind)


def parse_envelope(
    http_status: int, body: bytes, latency_ms: float, decoder: msgspec.json.Decoder[Any] = ENVELOPE_DECODER
) -> Attempt:
    """Split a body into meta and data. A body that is not an envelope is a failure, not a crash."""
    try:
        envelope = decode_tolerant(decoder, body)  # lone surrogates are data, not a failure
        meta_code = int(envelope.meta.code)
    except (msgspec.DecodeError, TypeError, ValueError):
        return Attempt(http_status, None, None, None, None, latency_ms, len(body), failure="not_json")
    return Attempt(
        http_status,
        meta_code,
        _as_text(envelope.meta.type),
        _as_text(envelope.meta.message),
        envelope.data,
        latency_ms,
        len(body),
    )


def _as_text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)
