"""Back-to-back runs against a strict server: no tolerance, a handshake per new connection, connections
closed at random, a penalty after a 429. Judged by the 429s the server counted, never by our timings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tm_pipeline.api.errors import RateLimitedError
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.run import ExtractSummary, extract_window, sync_state
from tm_pipeline.extract.windows import Window, full_window, incremental_windows
from tm_pipeline.landing.lake import Lake
from tm_pipeline.resources import TrackingMoreResource
from tm_pipeline.sandbox import FaultConfig, SandboxConfig, SandboxServer, key_fingerprint

TRACKINGS = 1500
PAGE_LIMIT = 500  # three pages: the prefetch thread fetches page k+1 while page k is converted
NO_429_PAUSE = RetryPolicy(max_429_pauses=0)  # a 429 ends the run at once instead of costing minutes


@pytest.fixture(scope="module")
def strict_sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig.strict(trackings=TRACKINGS, seed=3, api_keys=(), close_connection_rate=0.25)
    with SandboxServer(config).running() as server:
        yield server


def _run(
    server: SandboxServer,
    api_key: str,
    data_dir: Path,
    windows: list[Window],
    policy: RetryPolicy = NO_429_PAUSE,
    spaces_sends: bool = True,
) -> list[ExtractSummary]:
    """One run as a new process would do it: a new client (so a new connection) and a new pacer
    that only knows the key's budget from the state file."""
    account = TrackingMoreResource(
        base_url=server.base_url, api_key=api_key, page_limit=PAGE_LIMIT, state_dir=str(data_dir / "state")
    )
    pacer = account.pacer()
    if not spaces_sends:  # the pacer before issue 9: it spaced its own grants and nothing else
        pacer.note_request = lambda *_args, **_kwargs: None  # type: ignore[method-assign]
    client = account.client()
    try:
        fetcher = PageFetcher(client, pacer, policy)
        return [extract_window(fetcher, Lake(data_dir / "lake"), window, PAGE_LIMIT) for window in windows]
    finally:
        client.close()


def _idle_incremental(data_dir: Path) -> list[Window]:
    """Both windows of an incremental run right after a sync: one request each."""
    return incremental_windows(sync_state(Lake(data_dir / "lake").manifests()), overlap_s=0)


def test_back_to_back_runs_get_no_429_from_a_strict_server(strict_sandbox: SandboxServer, tmp_path: Path) -> None:
    api_key = "strict-back-to-back"
    strict_sandbox.add_api_key(api_key)
    connections_before = strict_sandbox.stats()["connections_opened"]

    full = _run(strict_sandbox, api_key, tmp_path, [full_window()])
    idle_runs = [_run(strict_sandbox, api_key, tmp_path, _idle_incremental(tmp_path)) for _ in range(3)]

    stats = strict_sandbox.stats()
    assert stats["list_429_per_key"].get(key_fingerprint(api_key), 0) == 0
    assert full[0].rows == len(strict_sandbox.truth_trackings()) and full[0].pages == TRACKINGS // PAGE_LIMIT
    assert [[summary.calls for summary in run] for run in idle_runs] == [[1, 1]] * 3
    assert stats["connections_opened"] - connections_before >= 4  # one per run at least: each paid a handshake


def test_a_pacer_spacing_only_its_grants_gets_a_429_from_the_same_server(tmp_path: Path) -> None:
    """What issue 9 saw: the first request of a run arrives a handshake late, the second on time.
    Connections are kept open here so that the second request reuses the first one's connection."""
    config = SandboxConfig.strict(trackings=TRACKINGS, seed=3, api_keys=(), close_connection_rate=0.0)
    with SandboxServer(config).running() as server:
        outcomes = {}
        for spaces_sends in (False, True):
            api_key = f"strict-spaces-sends-{spaces_sends}"
            server.add_api_key(api_key)
            try:
                _run(server, api_key, tmp_path / api_key, [full_window()], spaces_sends=spaces_sends)
            except RateLimitedError:
                pass
            outcomes[spaces_sends] = server.stats()["list_429_per_key"].get(key_fingerprint(api_key), 0)
    assert outcomes == {False: 1, True: 0}


def test_the_run_after_a_429_waits_out_the_pause_and_says_why(tmp_path: Path, caplog) -> None:
    api_key = "strict-after-429"
    config = SandboxConfig(trackings=TRACKINGS, api_keys=(api_key,), faults=FaultConfig(burst_429=1))
    pause = RetryPolicy(pause_on_429_s=3.0, max_429_pauses=0)
    with SandboxServer(config).running() as server:
        with pytest.raises(RateLimitedError):
            _run(server, api_key, tmp_path, [full_window()], pause)
        with caplog.at_level(logging.INFO, logger="tm_pipeline"):
            second = _run(server, api_key, tmp_path, [full_window()], pause)
        served_429 = server.stats()["served_429"]
    waits = [r for r in caplog.records if r.name == "tm_pipeline.api.pacer"]
    assert [r.levelno for r in waits] == [logging.WARNING]
    assert "the API asked for a pause after a 429 at" in waits[0].getMessage()
    assert "remembered from an earlier run" in waits[0].getMessage()
    assert served_429 == 1 and second[0].rows == TRACKINGS
