"""Strict mode: each knob that makes the sandbox as unforgiving as a strict production server."""

from __future__ import annotations

import argparse
import sys
import time

import pytest
import requests

from tm_pipeline.sandbox import SandboxConfig, SandboxServer, cli, key_fingerprint
from tm_pipeline.sandbox.ratelimit import IntervalLimiter

KEY = "strict-key"
HEADERS = {"Trackingmore-Api-Key": KEY}


def list_url(server: SandboxServer) -> str:
    return f"{server.base_url}/trackings/get?limit=10"


def code_of(response: requests.Response) -> int:
    return response.json()["meta"]["code"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_zero_tolerance_refuses_an_arrival_one_millisecond_early() -> None:
    clock = FakeClock()
    strict, lenient = IntervalLimiter(1.0, 0.0, clock=clock), IntervalLimiter(1.0, 0.02, clock=clock)
    assert strict.admit("k", arrived_at=10.0) and lenient.admit("k", arrived_at=10.0)
    assert not strict.admit("k", arrived_at=10.999)
    assert lenient.admit("k", arrived_at=10.999)
    assert strict.refused_per_scope() == {"k": 1} and lenient.refused_per_scope() == {}
    assert round(strict.min_gap_per_scope()["k"], 6) == 0.999


def test_penalty_refuses_a_key_for_its_whole_length_after_a_429() -> None:
    limiter = IntervalLimiter(1.0, 0.0, penalty_s=120.0, clock=FakeClock())
    assert limiter.admit("k", arrived_at=0.0)
    assert not limiter.admit("k", arrived_at=0.5)  # too early: 120 s of refusals start here
    assert not limiter.admit("k", arrived_at=100.0)
    assert limiter.admit("k", arrived_at=120.6)
    assert limiter.refused_per_scope() == {"k": 2}


def test_a_new_connections_first_request_arrives_after_the_handshake() -> None:
    """The same client timing is served without a handshake and refused with one: the first request's
    arrival moved later, so the second one (on the same connection) came too soon after it."""
    handshake_s = 0.5
    codes = {}
    for delay_s in (0.0, handshake_s):
        config = SandboxConfig(trackings=20, api_keys=(KEY,), rate_tolerance_s=0.0, handshake_delay_s=delay_s)
        with SandboxServer(config).running() as server, requests.Session() as session:
            sent_first = time.monotonic()
            first = session.get(list_url(server), headers=HEADERS, timeout=5)
            answered_first = time.monotonic()
            time.sleep(max(0.0, sent_first + 1.1 - time.monotonic()))
            second = session.get(list_url(server), headers=HEADERS, timeout=5)
            stats = server.stats()
        codes[delay_s] = (code_of(first), code_of(second))
        if delay_s:
            assert answered_first - sent_first >= handshake_s  # no answer before the request arrived
            assert stats["list_429_per_key"] == {key_fingerprint(KEY): 1}
            assert stats["min_list_gap_s_per_key"][key_fingerprint(KEY)] < 1.1 - handshake_s + 0.05
        assert stats["connections_opened"] == 1
    assert codes == {0.0: (200, 200), handshake_s: (200, 429)}


def test_closing_connections_after_replies_forces_new_connections() -> None:
    config = SandboxConfig(trackings=20, api_keys=(KEY,), list_rate_per_s=None, close_connection_rate=1.0)
    with SandboxServer(config).running() as server, requests.Session() as session:
        replies = [session.get(list_url(server), headers=HEADERS, timeout=5) for _ in range(4)]
        opened = server.stats()["connections_opened"]
    assert [reply.headers.get("Connection") for reply in replies] == ["close"] * 4
    assert [code_of(reply) for reply in replies] == [200] * 4
    assert opened == 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernel receive stamps are read on Linux only")
def test_every_arrival_is_the_kernels_receive_stamp_even_on_new_connections() -> None:
    """A missing stamp would fall back to when a handler thread saw the request: later than the truth."""
    config = SandboxConfig(trackings=20, api_keys=(KEY,), list_rate_per_s=None, close_connection_rate=1.0)
    with SandboxServer(config).running() as server:
        for _ in range(20):
            with requests.Session() as session:
                assert code_of(session.get(list_url(server), headers=HEADERS, timeout=5)) == 200
        stats = server.stats()
    assert stats["connections_opened"] == 20 and stats["arrivals_without_kernel_stamp"] == 0


def test_connection_closes_are_seeded_and_replay() -> None:
    closes = []
    for _ in range(2):
        config = SandboxConfig(
            trackings=20, api_keys=(KEY,), list_rate_per_s=None, close_connection_rate=0.5, close_connection_seed=3
        )
        with SandboxServer(config).running() as server, requests.Session() as session:
            replies = [session.get(list_url(server), headers=HEADERS, timeout=5) for _ in range(12)]
            opened = server.stats()["connections_opened"]
        closed = [reply.headers.get("Connection") == "close" for reply in replies]
        assert opened == 1 + sum(closed[:-1])  # every close but the last one cost a new connection
        closes.append(closed)
    assert closes[0] == closes[1] and 0 < sum(closes[0]) < 12


def test_strict_preset_and_flag_combine_every_knob_and_flags_override_it() -> None:
    strict = SandboxConfig.strict()
    assert (strict.rate_tolerance_s, strict.handshake_delay_s, strict.rate_penalty_s) == (0.0, 0.15, 120.0)
    assert strict.close_connection_rate > 0 and strict.list_rate_per_s == 1.0

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    from_flag = cli.config_from_args(parser.parse_args(["--strict", "--rate-penalty", "2"]))
    assert (from_flag.rate_tolerance_s, from_flag.handshake_delay_s) == (0.0, 0.15)
    assert from_flag.close_connection_rate == strict.close_connection_rate and from_flag.rate_penalty_s == 2.0
    lenient = cli.config_from_args(parser.parse_args([]))
    assert (lenient.rate_tolerance_s, lenient.handshake_delay_s, lenient.rate_penalty_s) == (0.02, 0.0, 0.0)
