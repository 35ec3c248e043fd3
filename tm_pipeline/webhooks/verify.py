"""Judge one webhook push (pure, no I/O): its shape, its signature, its timestamp.

The endpoint is public by nature (TrackingMore cannot send credentials), so every push is
treated as hostile until it passes, and a refusal says which rule it broke, with the HTTP status
TrackingMore (or an operator reading the rejection log) can act on:

    400 not_json          the body is not a UTF-8 JSON object
    422 wrong_shape       JSON, but not a v2 or v4 push of one tracking (the detail names the field)
    401 signature_missing a secret is configured and the push carries no signature
    401 signature_invalid the signature is not HMAC-SHA256(secret, timestamp)
    401 stale_timestamp   the signed timestamp is outside the replay window

v2 pushes carry `verifyInfo: {timeStr, signature}` in the body; v4 pushes send `timestamp` and
`signature` headers. Both sign the timestamp string with HMAC-SHA256, hex-encoded
(the API description, §8 Webhooks); the key is the account's login e-mail for v2 and the v4
webhook secret for v4 (the receiver takes one secret: the one of the version the account uses).
The signature covers the timestamp, not the body: the window bounds how long a captured
signature can be replayed, and a replayed body is harmless to the marts (an older state never
overwrites a newer one at load).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

V2, V4 = "v2", "v4"

NOT_JSON, WRONG_SHAPE = "not_json", "wrong_shape"
SIGNATURE_MISSING, SIGNATURE_INVALID, STALE_TIMESTAMP = "signature_missing", "signature_invalid", "stale_timestamp"
STATUS_BY_REASON = {
    NOT_JSON: 400,
    WRONG_SHAPE: 422,
    SIGNATURE_MISSING: 401,
    SIGNATURE_INVALID: 401,
    STALE_TIMESTAMP: 401,
}
# Millisecond timestamps are this large; seconds will not be for a few thousand years.
_MILLISECONDS_FROM = 10**11


@dataclass(frozen=True)
class Accepted:
    shape: str  # V2 | V4
    tracking_id: str
    tracking: dict[str, Any]  # the push's tracking object (`data`)


class Refused(Exception):
    """A push that broke a rule: `reason` (one of STATUS_BY_REASON) and a sentence saying what was wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    @property
    def status(self) -> int:
        return STATUS_BY_REASON[self.reason]

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def sign(secret: str, timestamp: str) -> str:
    """hex(HMAC-SHA256(key=secret, message=timestamp)): what TrackingMore sends, and what the sandbox signs."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8"), hashlib.sha256).hexdigest()


def _parse(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Refused(NOT_JSON, f"the body is not UTF-8 (byte {error.start})") from None
    except ValueError as error:
        raise Refused(NOT_JSON, f"the body is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise Refused(NOT_JSON, f"the body is a JSON {type(document).__name__}, not an object")
    return document


def _text(tracking: dict[str, Any], *names: str) -> str:
    for name in names:
        value = tracking.get(name)
        if isinstance(value, str) and value:
            return value
    raise Refused(WRONG_SHAPE, f"data.{names[0]} is missing or not a non-empty string")


def detect_shape(document: dict[str, Any], headers: dict[str, str]) -> str:
    """v2 signs in the body (`verifyInfo`) and names the courier `carrier_code`; v4 signs in headers
    and names it `courier_code`."""
    tracking = document.get("data")
    if not isinstance(tracking, dict):
        raise Refused(WRONG_SHAPE, "'data' is missing or not an object (expected the pushed tracking)")
    if "verifyInfo" in document or "carrier_code" in tracking:
        return V2
    if "courier_code" in tracking or "signature" in headers:
        return V4
    raise Refused(WRONG_SHAPE, "data has neither carrier_code (v2) nor courier_code (v4)")


def _check_shape(shape: str, document: dict[str, Any]) -> Accepted:
    tracking: dict[str, Any] = document["data"]
    if shape == V2:
        meta = document.get("meta")
        if meta is not None and (not isinstance(meta, dict) or meta.get("code") != 200):
            raise Refused(WRONG_SHAPE, f"meta.code is not 200 (meta: {json.dumps(meta)[:80]})")
        _text(tracking, "carrier_code")
    else:
        _text(tracking, "courier_code")
    _text(tracking, "tracking_number")
    return Accepted(shape, _text(tracking, "id"), tracking)


def _signed_pair(shape: str, document: dict[str, Any], headers: dict[str, str]) -> tuple[str, str] | None:
    if shape == V2:
        verify = document.get("verifyInfo")
        if not isinstance(verify, dict):
            return None
        time_str, signature = verify.get("timeStr"), verify.get("signature")
    else:
        time_str, signature = headers.get("timestamp"), headers.get("signature")
    if time_str is None or signature is None:
        return None
    return str(time_str), str(signature)


def _check_signature(
    shape: str, document: dict[str, Any], headers: dict[str, str], secret: str, now_s: float, window_s: float
) -> None:
    pair = _signed_pair(shape, document, headers)
    if pair is None:
        where = "verifyInfo.timeStr/signature" if shape == V2 else "the timestamp and signature headers"
        raise Refused(SIGNATURE_MISSING, f"a secret is configured but the {shape} push has no {where}")
    timestamp, signature = pair
    # Compare first, in constant time, so timing says nothing about how close a forgery came.
    if not hmac.compare_digest(sign(secret, timestamp).encode(), signature.lower().encode()):
        raise Refused(SIGNATURE_INVALID, "the signature is not HMAC-SHA256 of the timestamp with the configured secret")
    try:
        signed_at = float(timestamp)
    except ValueError:
        raise Refused(STALE_TIMESTAMP, f"the signed timestamp {timestamp[:32]!r} is not a number") from None
    if signed_at >= _MILLISECONDS_FROM:
        signed_at /= 1000
    if abs(now_s - signed_at) > window_s:
        raise Refused(
            STALE_TIMESTAMP,
            f"signed at {signed_at:.0f}, " + (
                f"{now_s - signed_at:.0f} s ago" if now_s > signed_at else f"{signed_at - now_s:.0f} s in the future"
            ) + f"; the window is ±{window_s:.0f} s "
            "(a replay, or a clock off: check NTP on this host)",
        )


def judge_push(
    body: bytes, headers: dict[str, str], secret: str | None, now_s: float, window_s: float
) -> Accepted:
    """The accepted push, or Refused naming the rule it broke. `headers` have lower-case names."""
    document = _parse(body)
    shape = detect_shape(document, headers)
    accepted = _check_shape(shape, document)
    if secret:
        _check_signature(shape, document, headers, secret, now_s, window_s)
    return accepted
