"""The error taxonomy against the real sandbox: stop at once on auth errors, pause on 429, lose nothing."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tm_pipeline.api.client import TrackingMoreClient, key_fingerprint
from tm_pipeline.api.errors import StopRunError
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.run import extract_window
from tm_pipeline.extract.windows import Window, full_window
from tm_pipeline.landing.lake import Lake
from tm_pipeline.sandbox import FaultConfig, SandboxConfig, SandboxServer


def _ledger(lake: Lake) -> list[dict]:
    return ds.dataset(str(lake.root / "api_calls"), format="parquet").to_table().sort_by("call_seq").to_pylist()


def test_unknown_key_stops_after_one_call_naming_the_cause(sandbox: SandboxServer, data_dir: Path) -> None:
    secret = "not-a-key-the-sandbox-knows-0123456789"
    lake = Lake(data_dir / "lake")
    fetcher = PageFetcher(TrackingMoreClient(sandbox.base_url, secret), Pacer(1.0))
    with pytest.raises(StopRunError) as raised:
        extract_window(fetcher, lake, full_window())
    message = str(raised.value)
    assert "4001" in message and "TRACKINGMORE_API_KEY" in message and key_fingerprint(secret) in message
    assert secret not in message
    calls = _ledger(lake)
    assert [(c["meta_code"], c["attempt"]) for c in calls] == [(4001, 1)]
    assert lake.manifests()[0].status == "failed"


def test_429_pauses_then_resumes_without_losing_pages(
    sandbox: SandboxServer, api_key: str, data_dir: Path
) -> None:
    lake = Lake(data_dir / "lake")
    too_fast = Pacer(4.0)  # four times the account's limit: the sandbox must answer 429
    fetcher = PageFetcher(
        TrackingMoreClient(sandbox.base_url, api_key), too_fast, RetryPolicy(pause_on_429_s=1.2)
    )
    summary = extract_window(fetcher, lake, full_window())
    calls = _ledger(lake)
    rate_limited = [c for c in calls if c["meta_code"] == 429]
    assert rate_limited, "the sandbox should have answered 429 to a client pacing at 4 req/s"
    assert all(c["wait_before_s"] >= 1.0 for c in calls if c["attempt"] > 1)  # it stayed quiet after each 429
    assert summary.rows == len(sandbox.truth_trackings())
    assert sorted(c["page"] for c in calls if c["meta_code"] == 200) == [1, 2, 3]


@pytest.mark.parametrize("code", [4021, 4019, 402, 4002])
def test_billing_and_deleted_key_codes_stop_after_one_call(code: int, api_key: str, data_dir: Path) -> None:
    faults = FaultConfig(error_rates={str(code): 1.0})
    with SandboxServer(SandboxConfig(trackings=100, api_keys=(api_key,), faults=faults)).running() as server:
        lake = Lake(data_dir / "lake")
        fetcher = PageFetcher(TrackingMoreClient(server.base_url, api_key), Pacer(1.0))
        with pytest.raises(StopRunError, match=f"answered {code}") as raised:
            extract_window(fetcher, lake, full_window())
        assert server.stats()["requests"] == 1
    assert "What to do:" in str(raised.value)
    assert [c["meta_code"] for c in _ledger(lake)] == [code]


def test_a_request_error_names_the_parameters_sent(sandbox: SandboxServer, api_key: str, data_dir: Path) -> None:
    lake = Lake(data_dir / "lake")
    fetcher = PageFetcher(TrackingMoreClient(sandbox.base_url, api_key), Pacer(1.0))
    with pytest.raises(StopRunError) as raised:
        extract_window(fetcher, lake, Window("full", {"status": "teleported"}))
    message = str(raised.value)
    assert "4033" in message and "'status': 'teleported'" in message and api_key not in message
