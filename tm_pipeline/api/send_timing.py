"""When did a request actually leave, and on a new connection? A requests adapter that knows.

The pacer must space requests as the server sees them arrive. The moment a pacer grants a turn is
not that moment: the thread can be held (the GIL, while another thread converts a page) before the
request is written, and a new connection adds a handshake before the server counts the request.
The connection classes here stamp `time.monotonic()` right after the request was written, and
remember whether `connect()` ran for it, so the client can report both with each attempt.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _SendTimed:
    """Mixin for urllib3 connections: `sent_at` of the last request, and whether it opened the connection."""

    sent_at: float | None = None
    new_connection: bool = True
    _connected_for_next_request = False

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]  # a mixin: the urllib3 connection it joins has connect()
        self._connected_for_next_request = True

    def request(self, *args: Any, **kwargs: Any) -> None:
        self.sent_at = None  # stays None if writing fails: the caller then assumes the worst
        super().request(*args, **kwargs)  # type: ignore[misc]  # likewise request()
        # Stamped after the write returned: any delay before this line makes the stamp later,
        # which only makes the pacer more careful, never less.
        self.sent_at = time.monotonic()
        self.new_connection = self._connected_for_next_request
        self._connected_for_next_request = False


class SendTimedHTTPConnection(_SendTimed, HTTPConnection):
    pass


class SendTimedHTTPSConnection(_SendTimed, HTTPSConnection):
    pass


class _SendTimedHTTPPool(HTTPConnectionPool):
    ConnectionCls = SendTimedHTTPConnection


class _SendTimedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = SendTimedHTTPSConnection


class SendTimingAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose connections note their send times (see `sent_on`)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _SendTimedHTTPPool, "https": _SendTimedHTTPSPool}


def sent_on(response: requests.Response) -> tuple[float | None, bool]:
    """(`sent_at`, `new_connection`) of a streamed response whose body is still unread.

    (None, True) when unknown (e.g. through a proxy the adapter does not manage): the pacer then
    treats the request as a new connection's, whose arrival is bounded only by the answer."""
    connection = getattr(response.raw, "connection", None)
    if not isinstance(connection, _SendTimed):
        return None, True
    return connection.sent_at, connection.new_connection
