"""A wrong TRACKINGMORE_BASE_URL is a configuration error at once; the API having trouble is still retried.

Every case is real: a closed port on 127.0.0.1, an unresolvable `.invalid` name (the resolver says
NXDOMAIN; no HTTP request leaves the machine), small stand-in servers of our own that answer HTML,
garbage or JSON without `meta`, and the sandbox for 5xx and gateway pages. What is asserted is what
the user sees: the exception's exit code, the host and variable its message names, and how many
attempts the server (or the ledger) saw.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tm_pipeline import settings
from tm_pipeline.api.client import TrackingMoreClient
from tm_pipeline.api.errors import ConfigurationError, PipelineError, TransientApiError
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.run import PageProgress, extract_window
from tm_pipeline.extract.windows import full_window
from tm_pipeline.landing.lake import Lake
from tm_pipeline.sandbox import FaultConfig, SandboxConfig, SandboxServer
from tm_pipeline_tests.standin import UNRESOLVABLE_BASE_URL, closed_port, wrong_server

KEY = "config-test-key-0123456789abcdef"
QUICK_RETRIES = RetryPolicy(backoff_initial_s=0.05, backoff_max_s=0.2, max_transient_retries=2)


def _fetcher(base_url: str, rate_per_s: float = 50.0) -> PageFetcher:
    """A stand-in is not held to the API's 1/s, so its tests pace faster; the sandbox gets 1/s."""
    return PageFetcher(TrackingMoreClient(base_url, KEY, timeout_s=5.0), Pacer(rate_per_s), QUICK_RETRIES)


def _ledger_failures(lake: Lake) -> list[str | None]:
    table = ds.dataset(str(lake.root / "api_calls"), format="parquet").to_table().sort_by("call_seq")
    return table.column("failure").to_pylist()


def _extract_error(base_url: str, data_dir: Path) -> tuple[PipelineError, Lake]:
    lake = Lake(data_dir / "lake")
    with pytest.raises(PipelineError) as raised:
        extract_window(_fetcher(base_url), lake, full_window())
    return raised.value, lake


def _assert_names_host_and_variable(error: BaseException, origin: str) -> None:
    message = str(error)
    assert origin in message, message
    assert "TRACKINGMORE_BASE_URL" in message and "What to check" in message, message
    assert KEY not in message


WRONG_ANSWERS = {
    "html_200": (200, "text/html", b"<html><head><title>Corporate proxy: sign in</title></head><body>x</body></html>"),
    "garbage": (200, "application/octet-stream", b"\x00\x01\xfe garbage that is not JSON \xff"),
    "html_404": (404, "text/html", b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"),
    "json_without_meta": (200, "application/json", b'{"status": "ok", "data": {"items": []}}'),
}


@pytest.mark.parametrize("answer", WRONG_ANSWERS, ids=list(WRONG_ANSWERS))
def test_an_address_that_is_not_the_api_is_a_configuration_error_after_one_request(
    answer: str, data_dir: Path
) -> None:
    with wrong_server(*WRONG_ANSWERS[answer]) as server:
        error, lake = _extract_error(server.base_url, data_dir)
        requests_received = server.requests_received
    assert isinstance(error, ConfigurationError) and error.exit_code == 2
    _assert_names_host_and_variable(error, server.origin)
    assert f"HTTP {WRONG_ANSWERS[answer][0]}" in str(error)
    assert requests_received == 1
    assert _ledger_failures(lake) == ["not_envelope"]


def test_connection_refused_is_a_configuration_error_after_two_attempts(data_dir: Path) -> None:
    with closed_port() as base_url:
        error, lake = _extract_error(base_url, data_dir)
    assert isinstance(error, ConfigurationError) and error.exit_code == 2
    _assert_names_host_and_variable(error, base_url.removesuffix("/v2"))
    assert "connection refused" in str(error)
    assert _ledger_failures(lake) == ["refused", "refused"]


def test_a_host_name_that_does_not_resolve_is_a_configuration_error_after_two_attempts(data_dir: Path) -> None:
    error, lake = _extract_error(UNRESOLVABLE_BASE_URL, data_dir)
    assert isinstance(error, ConfigurationError) and error.exit_code == 2
    _assert_names_host_and_variable(error, "http://tm-pipeline-test.invalid:80")
    assert "does not resolve" in str(error)
    assert _ledger_failures(lake) == ["dns", "dns"]


def test_an_unreachable_proxy_is_a_configuration_error_naming_the_proxy_variables(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with closed_port() as proxy_url:
        for variable in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(variable, proxy_url.removesuffix("/v2"))
        for variable in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(variable, raising=False)
        error, lake = _extract_error(UNRESOLVABLE_BASE_URL, data_dir)  # never reached: the proxy refuses
    assert isinstance(error, ConfigurationError)
    assert "HTTPS_PROXY / HTTP_PROXY" in str(error)
    assert _ledger_failures(lake) == ["proxy", "proxy"]


def test_a_wrong_address_that_echoes_the_key_does_not_put_it_in_the_error(data_dir: Path) -> None:
    page = f"<html><head><title>Echo: Trackingmore-Api-Key={KEY}</title></head></html>".encode()
    with wrong_server(200, "text/html", page) as server:
        error, _ = _extract_error(server.base_url, data_dir)
    assert isinstance(error, ConfigurationError)
    assert KEY not in str(error) and "key#" in str(error)


def test_json_the_strict_decoder_refuses_is_not_blamed_on_the_address(data_dir: Path) -> None:
    """Valid JSON with `meta` (a lone surrogate escape msgspec rejects) is a page problem, not configuration."""
    body = b'{"meta": {"code": 200, "type": "Success", "message": "\\ud800"}, "data": {"page": 1, "items": []}}'
    lake = Lake(data_dir / "lake")
    with wrong_server(200, "application/json", body) as server:
        try:
            extract_window(_fetcher(server.base_url), lake, full_window())
        except PipelineError as error:
            assert not isinstance(error, ConfigurationError), error


@pytest.mark.parametrize("code", ["500", "502"])
def test_server_errors_and_gateway_pages_are_retried_then_exit_4(code: str, data_dir: Path) -> None:
    config = SandboxConfig(trackings=100, api_keys=(KEY,), faults=FaultConfig(error_rates={code: 1.0}))
    with SandboxServer(config).running() as server:
        lake = Lake(data_dir / "lake")
        with pytest.raises(TransientApiError) as raised:
            extract_window(_fetcher(server.base_url, rate_per_s=1.0), lake, full_window())
        requests_received = server.stats()["requests"]
    attempts = QUICK_RETRIES.max_transient_retries + 1
    assert requests_received == attempts
    assert raised.value.exit_code == 4
    assert f"Gave up after {attempts} attempts" in str(raised.value)


def test_a_host_that_answered_then_refuses_is_an_outage_not_configuration(data_dir: Path) -> None:
    """The sandbox serves page 1, then goes away: the refusals that follow are retried, exit 4."""
    server = SandboxServer(SandboxConfig(trackings=4500, api_keys=(KEY,))).start()
    base_url = server.base_url
    lake = Lake(data_dir / "lake")

    def stop_after_first_page(progress: PageProgress) -> None:
        if progress.page == 1:
            server.stop()

    try:
        with pytest.raises(TransientApiError) as raised:
            extract_window(_fetcher(base_url, rate_per_s=1.0), lake, full_window(), progress=stop_after_first_page)
    finally:
        server.stop()
    assert "after answering earlier in this run" in str(raised.value)
    failures = _ledger_failures(lake)
    assert failures[0] is None  # page 1 came back as an envelope
    assert failures[-1] == "refused"  # the page it gave up on met refusals, retried within the budget


@pytest.mark.parametrize("base_url", ["api.trackingmore.com/v2", "ftp://api.trackingmore.com/v2", "https:///v2"])
def test_a_base_url_that_is_not_an_http_url_is_a_configuration_error_before_any_request(base_url: str) -> None:
    with pytest.raises(ConfigurationError, match="TRACKINGMORE_BASE_URL must be an http"):
        TrackingMoreClient(base_url, KEY)


@pytest.mark.parametrize("rate", ["-1", "fast", "nan", "inf"])
def test_a_list_rate_that_is_not_a_rate_is_refused_naming_the_variable(
    rate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A negative rate used to pass as 'unpaced': a typo would have hammered the API."""
    monkeypatch.setenv(settings.LIST_RATE_VAR, rate)
    with pytest.raises(ConfigurationError, match=settings.LIST_RATE_VAR):
        settings.list_rate_per_s()
    monkeypatch.setenv(settings.LIST_RATE_VAR, "0")
    assert settings.list_rate_per_s() == 0
