"""`tm-pipeline sync` ends with the documented exit code, driven through `tm_pipeline.cli.main` as a
scheduler would run it: 1 an ERROR check failed, 2 configuration, 3 the API refused, 4 retry later.

Each run is a real in-process Dagster run against a real server on 127.0.0.1 (the sandbox, or a
closed port); what is asserted is the code, what stderr names, and the requests the server saw.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tm_pipeline import settings
from tm_pipeline.api.errors import (
    ConfigurationError,
    PipelineError,
    RateLimitedError,
    StopRunError,
    TransientApiError,
    exit_code_by_class_name,
)
from tm_pipeline.cli import exit_code_for, main
from tm_pipeline.sandbox import FaultConfig, SandboxConfig, SandboxServer
from tm_pipeline.sandbox.faults import Fault, FaultInjector
from tm_pipeline_tests.standin import closed_port


def _sync(monkeypatch: pytest.MonkeyPatch, data_dir: Path, base_url: str, api_key: str, **env: str) -> int:
    monkeypatch.setenv(settings.API_KEY_VAR, api_key)
    monkeypatch.setenv(settings.BASE_URL_VAR, base_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(["sync", "--data-dir", str(data_dir)])


def test_a_closed_port_exits_2_naming_the_host_and_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    with closed_port() as base_url:
        exit_code = _sync(monkeypatch, data_dir, base_url, "any-key")
    stderr = capsys.readouterr().err
    assert exit_code == 2
    assert "error in trackingmore_extract: tm_pipeline.api.errors.ConfigurationError: GET /trackings/get" in stderr
    assert base_url.removesuffix("/v2") in stderr and "TRACKINGMORE_BASE_URL" in stderr


def test_an_unknown_key_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: SandboxServer, data_dir: Path
) -> None:
    exit_code = _sync(monkeypatch, data_dir, sandbox.base_url, f"unknown-{uuid.uuid4().hex}")
    assert exit_code == 3
    assert "4001" in capsys.readouterr().err


def test_gateway_pages_past_the_retry_budget_exit_4_after_the_budgeted_attempts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    key = "gateway-test-key"
    config = SandboxConfig(trackings=100, api_keys=(key,), faults=FaultConfig(error_rates={"502": 1.0}))
    with SandboxServer(config).running() as server:
        exit_code = _sync(monkeypatch, data_dir, server.base_url, key, **{settings.MAX_RETRIES_VAR: "1"})
        requests_received = server.stats()["requests"]
    assert exit_code == 4
    assert requests_received == 2  # the first attempt and the one retry TRACKINGMORE_MAX_RETRIES allows
    assert "502 Bad Gateway" in capsys.readouterr().err


def _seed_failing_second_request_with_4031() -> int:
    """A fault seed whose first list request is served and whose second answers 4031 ("no content").

    Found with the sandbox's own injector, so the test does not depend on how it draws.
    """
    for seed in range(1000):
        injector = FaultInjector(FaultConfig(error_rates={"4031": 0.5}, seed=seed))
        if [injector.draw(), injector.draw()] == [None, Fault("error", 4031)]:
            return seed
    raise AssertionError("no seed in 0..999 gives served-then-4031")


def test_a_failed_error_check_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    """Page 2 of 3 answers 4031: paging stops there, and the completeness check (ERROR) fails."""
    key = "completeness-test-key"
    faults = FaultConfig(error_rates={"4031": 0.5}, seed=_seed_failing_second_request_with_4031())
    with SandboxServer(SandboxConfig(trackings=4500, api_keys=(key,), faults=faults)).running() as server:
        exit_code = _sync(monkeypatch, data_dir, server.base_url, key)
    captured = capsys.readouterr()
    assert exit_code == 1
    assert "check failed (ERROR)" in captured.err and "api_completeness" in captured.err


def test_a_malformed_setting_exits_2_before_any_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    exit_code = _sync(monkeypatch, data_dir, "http://127.0.0.1:9/v2", "any-key", **{settings.MAX_RETRIES_VAR: "many"})
    assert exit_code == 2
    assert settings.MAX_RETRIES_VAR in capsys.readouterr().err
    assert not (data_dir / "dagster_home").exists()


def test_exit_codes_come_from_the_exception_classes_including_new_ones() -> None:
    class BaseUrlMovedError(ConfigurationError):
        """Defined here only: the map must find subclasses nobody listed."""

    codes = exit_code_by_class_name()
    assert codes["BaseUrlMovedError"] == 2
    assert (codes["ConfigurationError"], codes["StopRunError"], codes["TransientApiError"]) == (2, 3, 4)
    assert codes["RateLimitedError"] == RateLimitedError.exit_code == 4
    assert PipelineError.exit_code == 1 and StopRunError.exit_code == 3 and TransientApiError.exit_code == 4


def test_a_code_that_needs_a_person_wins_over_retry_later() -> None:
    assert exit_code_for(["TransientApiError", "ConfigurationError"]) == 2
    assert exit_code_for(["TransientApiError", "StopRunError", "ConfigurationError"]) == 3
    assert exit_code_for(["TransientApiError", "KeyError"]) == 1  # any other exception is a failed step
    assert exit_code_for(["RateLimitedError"]) == 4
