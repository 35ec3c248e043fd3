"""The client reports, per attempt, when the request left and whether it opened a new connection."""

from __future__ import annotations

import pytest

from tm_pipeline.api.client import TrackingMoreClient
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "send-timing-key"


@pytest.mark.parametrize("close_connection_rate", [0.0, 1.0])
def test_new_connections_are_reported_as_the_server_counts_them(close_connection_rate: float) -> None:
    config = SandboxConfig(
        trackings=30, api_keys=(KEY,), list_rate_per_s=None, close_connection_rate=close_connection_rate
    )
    with SandboxServer(config).running() as server:
        client = TrackingMoreClient(server.base_url, KEY)
        try:
            attempts = [client.get("/trackings/get", {"limit": 10, "page": page}) for page in (1, 2, 3)]
        finally:
            client.close()
        connections_opened = server.stats()["connections_opened"]
    assert [attempt.code for attempt in attempts] == [200, 200, 200]
    assert sum(attempt.new_connection for attempt in attempts) == connections_opened
    assert attempts[0].new_connection  # a new client always starts with a new connection
    for attempt in attempts:
        assert attempt.sent_at is not None and attempt.answered_at is not None
        assert attempt.sent_at <= attempt.answered_at


def test_a_failed_attempt_reports_no_send_time() -> None:
    """The sandbox resets the connection: whether the request arrived is unknown, so is its send time."""
    config = SandboxConfig(trackings=30, api_keys=(KEY,), list_rate_per_s=None)
    with SandboxServer(config).running() as server:
        server.set_faults({"reset_rate": 1.0})
        client = TrackingMoreClient(server.base_url, KEY)
        try:
            attempt = client.get("/trackings/get", {"limit": 10})
        finally:
            client.close()
    assert attempt.failure is not None and attempt.sent_at is None
