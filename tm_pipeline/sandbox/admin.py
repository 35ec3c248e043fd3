"""Sandbox-only endpoints under /_sandbox/: stats, clock, faults, billing, ground truth.

They need no API key and do not exist upstream; errors are plain JSON with HTTP 400/404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from .endpoints import RequestError, parse_json
from .protocol import Reply

if TYPE_CHECKING:
    from .server import SandboxServer


def admin_reply(sandbox: SandboxServer, method: str, path: str, body: bytes) -> Reply:
    """Sandbox-only endpoints (no API key; they do not exist upstream)."""
    route = (method, path.rstrip("/"))
    try:
        if route == ("GET", "/_sandbox/stats"):
            return Reply(200, body=orjson.dumps(sandbox.stats()))
        if route == ("GET", "/_sandbox/clock"):
            return Reply(200, body=orjson.dumps({"now": sandbox.store.now_iso()}))
        if route == ("POST", "/_sandbox/clock"):
            fields = parse_json(body)
            hours = float(fields["advance_hours"]) if isinstance(fields, dict) else float("nan")
            if not hours >= 0:
                raise ValueError("advance_hours must be a number >= 0")
            return Reply(200, body=orjson.dumps(sandbox.advance_clock(hours)))
        if route == ("GET", "/_sandbox/faults"):
            return Reply(200, body=orjson.dumps(sandbox.faults.config.as_dict()))
        if route == ("POST", "/_sandbox/faults"):
            fields = parse_json(body)
            if not isinstance(fields, dict):
                raise ValueError("body must be a JSON object")
            sandbox.set_faults(fields)
            return Reply(200, body=orjson.dumps(sandbox.faults.config.as_dict()))
        if route == ("POST", "/_sandbox/account"):
            fields = parse_json(body)
            if not isinstance(fields, dict):
                raise ValueError("body must be a JSON object such as {\"quota\": 0}")
            return Reply(200, body=orjson.dumps(sandbox.account.set_billing(fields)))
        if route == ("GET", "/_sandbox/webhook"):
            return Reply(200, body=orjson.dumps(sandbox.webhook.stats() if sandbox.webhook else {"config": None}))
        if route == ("POST", "/_sandbox/webhook"):
            fields = parse_json(body)
            if not isinstance(fields, dict):
                raise ValueError("body must be a JSON object: {\"url\": ..., \"shape\": \"v2\"|\"v4\", ...}, or {}")
            sandbox.configure_webhook(fields or None)
            return Reply(200, body=orjson.dumps(sandbox.webhook.stats() if sandbox.webhook else {"config": None}))
        if route == ("GET", "/_sandbox/truth"):
            return Reply(200, body=orjson.dumps(sandbox.expected_metrics()))
        if route == ("GET", "/_sandbox/trackings"):
            with sandbox.store.lock:
                lines = b"\n".join(sandbox.store.rendered[tid] for tid in sandbox.store.order)
            return Reply(200, body=lines + b"\n" if lines else b"", content_type="application/x-ndjson")
    except (RequestError, ValueError, KeyError, TypeError) as refused:
        return Reply(400, body=orjson.dumps({"error": str(refused) or "bad request"}), http_status=400)
    return Reply(404, body=orjson.dumps({"error": "unknown admin endpoint"}), http_status=404)
