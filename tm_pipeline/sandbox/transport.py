"""HTTP transport of the sandbox: stdlib ThreadingHTTPServer on HTTP/1.1 keep-alive.

It reads a request, asks SandboxServer how to answer, and writes the bytes with an exact
Content-Length — or misbehaves on purpose (reset, truncated body, held-open connection, a closed
connection after the reply). A request's arrival time is the kernel's receive time of its first
byte (Linux SO_TIMESTAMPNS), not when a handler thread got round to it, so a busy server (or a
test's GIL) cannot make a client's spacing look shorter than it was.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from .server import SandboxServer

# Idle keep-alive connections are closed after this, like nginx's default keepalive_timeout.
KEEPALIVE_IDLE_S = 75
# Python does not name it; 35 is Linux's asm-generic value (x86, arm). Elsewhere arrival = "now".
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform.startswith("linux") else None)


class SandboxHTTPServer(ThreadingHTTPServer):
    """Tracks open keep-alive connections so stop() really stops: without this, a client's
    pooled connection would keep being served by a server the test believes is down."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        super().__init__(address, SandboxRequestHandler)
        self.sandbox = sandbox
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def server_bind(self) -> None:
        """Receive timestamps on the listening socket: accepted connections inherit them, and the
        kernel keeps stamping for the server's whole life (enabled per connection, it switches
        stamping on lazily and the first requests of a connection can miss their stamp)."""
        if _SO_TIMESTAMPNS is not None:
            try:
                self.socket.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            except OSError:
                pass  # arrivals fall back to the time the handler sees the request
        super().server_bind()

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
        self.server.sandbox.connection_opened()
        self.requests_on_connection = 0
        self.arrived_at: float | None = None

    def handle_one_request(self) -> None:
        """Note when the next request's first byte arrived, then parse and serve it as usual.

        The peek blocks like the stdlib's readline would. Requests are not pipelined by any
        client here, so nothing is ever left in `rfile`'s buffer when the peek starts."""
        try:
            self.arrived_at = self._await_request()
        except OSError:  # idle timeout, reset: the stdlib would end the connection too
            self.arrived_at = None
        if self.arrived_at is None:
            self.close_connection = True
            return
        super().handle_one_request()
        self.requests_on_connection += 1

    def _await_request(self) -> float | None:
        """time.monotonic() of the kernel's receive stamp of the next byte; None when the client closed."""
        data, ancillary, _flags, _address = self.connection.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
        if not data:
            return None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanoseconds = struct.unpack("qq", payload[:16])
                return _monotonic_of_wall_time(seconds + nanoseconds / 1e9)
        self.server.sandbox.arrival_without_stamp()
        return time.monotonic()

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
        is_admin = url.path.startswith("/_sandbox/")
        arrived_at = self._arrival(sandbox.config.handshake_delay_s if not is_admin else 0.0)
        outcome = sandbox.handle(self.command, url.path, query, headers, body, arrived_at)
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
        if not is_admin and sandbox.close_after_reply():
            self.send_header("Connection", "close")  # the stdlib then closes after this reply
        self.end_headers()
        if fault is not None and fault.kind == "truncate":
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)

    def _arrival(self, handshake_delay_s: float) -> float:
        """When this request counts as arrived; a new connection's first one only after the handshake.

        The reply waits for that moment too, so no client can see an answer before its arrival."""
        arrived_at = self.arrived_at if self.arrived_at is not None else time.monotonic()
        if self.requests_on_connection == 0 and handshake_delay_s > 0:
            arrived_at += handshake_delay_s
            pause_s = arrived_at - time.monotonic()
            if pause_s > 0:
                time.sleep(pause_s)
        return arrived_at

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


def _monotonic_of_wall_time(wall_s: float) -> float:
    """A wall-clock instant on time.monotonic()'s scale. The two clocks are read back to back; a
    pair read across a preemption is read again, since its offset would be off by the preemption."""
    for _ in range(5):
        before = time.monotonic()
        wall_now = time.time()
        after = time.monotonic()
        if after - before < 0.0005:
            break
    return (before + after) / 2 - (wall_now - wall_s)
