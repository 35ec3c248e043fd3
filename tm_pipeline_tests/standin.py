"""Things that are not the TrackingMore API, on 127.0.0.1: what a wrong TRACKINGMORE_BASE_URL reaches.

`WrongServer` answers every request with one fixed reply (an HTML page, garbage, JSON without
`meta`) and counts the requests it received; `closed_port` is an address where nothing listens.
Both are real sockets, so the client meets exactly what it would meet in production.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A host name that can never resolve (RFC 6761 reserves .invalid).
UNRESOLVABLE_BASE_URL = "http://tm-pipeline-test.invalid/v2"


class WrongServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _FixedReplyHandler)
        self.reply = (status, content_type, body)
        self.requests_received = 0
        self.counter_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v2"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FixedReplyHandler(BaseHTTPRequestHandler):
    server: WrongServer

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        with self.server.counter_lock:
            self.server.requests_received += 1
        status, content_type, body = self.server.reply
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silent: the test reads requests_received instead."""


@contextmanager
def wrong_server(status: int, content_type: str, body: bytes) -> Iterator[WrongServer]:
    server = WrongServer(status, content_type, body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def closed_port() -> Iterator[str]:
    """A base URL on 127.0.0.1 whose port is bound but not listening: every connect is refused.

    Holding the bound socket keeps another process from taking the port while the test runs.
    """
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{holder.getsockname()[1]}/v2"
    finally:
        holder.close()
