"""HTTP transport of the sandbox: stdlib ThreadingHTTPServer on HTTP/1.1 keep-alive.

It reads a request, asks SandboxServer how to answer, and writes the bytes with an exact
Content-Length — or misbehaves on purpose (reset, truncated body, held-open connection).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from .server import SandboxServer

# Idle keep-alive connections are closed after this, like nginx's default keepalive_timeout.
KEEPALIVE_IDLE_S = 75


class SandboxHTTPServer(ThreadingHTTPServer):
    """Tracks open keep-alive connections so stop() really stops: without this, a client's
    pooled connection would keep being served by a server the test believes is down."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        super().__init__(address, SandboxRequestHandler)
        self.sandbox = sandbox
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_open_connections(self) -> None:
        with self.connections_lock:
            connections, self.open_connections = self.open_connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its client


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """One connection's requests; all decisions are SandboxServer.handle's."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = KEEPALIVE_IDLE_S
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silent: a benchmark serves thousands of pages and stats() already counts them."""

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        outcome = sandbox.handle(self.command, url.path, query, headers, body)
        sandbox.record(outcome)
        if not url.path.startswith("/_sandbox/") and sandbox.faults.config.latency_s > 0:
            time.sleep(sandbox.faults.config.latency_s)
        fault = outcome.transport_fault
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "timeout":
            time.sleep(sandbox.faults.config.timeout_hold_s)
        reply = outcome.reply
        payload = reply.to_bytes()
        self.send_response(reply.status_line(sandbox.config.mirror_http_status))
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if fault is not None and fault.kind == "truncate":
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve
