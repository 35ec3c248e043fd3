"""SandboxServer: the stand-in TrackingMore v2 API over real HTTP on a local port.

Standard-library `ThreadingHTTPServer` speaking HTTP/1.1 with keep-alive and exact
Content-Length, so clients exercise the same connection handling they use in production.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import orjson

from .config import SandboxConfig
from .listing import list_trackings
from .protocol import Reply, error
from .ratelimit import IntervalLimiter, key_fingerprint
from .stats import RequestStats
from .store import TrackingStore
from .truth import expected_metrics

API_KEY_HEADER = "Trackingmore-Api-Key"
LIST_PATH = "/v2/trackings/get"
UNKNOWN_ENDPOINT = "(unknown)"


class SandboxServer:
    """A deterministic TrackingMore v2 account served on 127.0.0.1 (see docs/sandbox.md)."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.store = TrackingStore(self.config)
        self._api_keys: set[str] = set(self.config.api_keys)
        self._list_limiter = IntervalLimiter(self.config.list_rate_per_s, self.config.rate_tolerance_s)
        self._stats = RequestStats()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
        """Serve in background threads; port 0 picks a free port (read it from `base_url`)."""
        if self._httpd is not None:
            raise RuntimeError("sandbox already started")
        httpd = ThreadingHTTPServer((host, port), _Handler)
        httpd.daemon_threads = True
        httpd.sandbox = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="tm-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @contextmanager
    def running(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxServer]:
        self.start(host, port)
        try:
            yield self
        finally:
            self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("sandbox not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v2"

    # --- account and audit -----------------------------------------------------------------

    def add_api_key(self, api_key: str) -> None:
        """Another valid key; rate limits are per key, so each test can have its own."""
        self._api_keys.add(api_key)

    def stats(self) -> dict[str, object]:
        """Request tallies plus the highest list-request arrival rate seen per key fingerprint."""
        snapshot = self._stats.snapshot()
        snapshot["max_list_rate_per_key"] = self._list_limiter.max_rate_per_scope()
        return snapshot

    def truth_trackings(self) -> list[dict[str, object]]:
        """Every tracking exactly as the list endpoint serves it now, in list order."""
        with self.store.lock:
            return [self.store.tracking_json(tid) for tid in self.store.order]

    def expected_metrics(self) -> dict[str, list[dict[str, object]]]:
        """Ground-truth marts computed from internal state (see truth.py for the definitions)."""
        with self.store.lock:
            facts = list(self.store.facts())
        return expected_metrics(facts)

    # --- request handling ------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[str, Reply]:
        """Route one request; returns the endpoint label for stats and the reply."""
        if path.startswith("/_sandbox/"):
            return path, self._admin(method, path)
        if path.rstrip("/") != LIST_PATH:
            return UNKNOWN_ENDPOINT, error(404)
        if method != "GET":
            return LIST_PATH, error(405)
        api_key = headers.get(API_KEY_HEADER.lower(), "")
        if api_key not in self._api_keys:
            return LIST_PATH, error(4001)
        if not self._list_limiter.admit(key_fingerprint(api_key)):
            return LIST_PATH, error(429)
        return LIST_PATH, list_trackings(self.store, query)

    def _admin(self, method: str, path: str) -> Reply:
        """Sandbox-only endpoints under /_sandbox/ (no API key; they do not exist upstream)."""
        if path == "/_sandbox/stats" and method == "GET":
            return Reply(code=200, body=orjson.dumps(self.stats()))
        return error(404)

    def record(self, endpoint: str, reply: Reply) -> None:
        if not endpoint.startswith("/_sandbox/"):
            self._stats.record(endpoint, reply.code)


class _Handler(BaseHTTPRequestHandler):
    """Thin transport: read the request, ask SandboxServer, write bytes with exact Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silent: a benchmark serves thousands of pages and stats() already counts them."""

    def _serve(self) -> None:
        sandbox: SandboxServer = self.server.sandbox  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        endpoint, reply = sandbox.handle(self.command, url.path, query, headers)
        sandbox.record(endpoint, reply)
        payload = reply.to_bytes()
        self.send_response(reply.mirrored_http_status if sandbox.config.mirror_http_status else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve
