"""The v4 walk against the real sandbox's /v4 over HTTP: it ends on a short or empty page (v4
reports no total), every v4 code drives retry, pause or stop exactly as its table says, and a 429
pauses and resumes without losing a page. Pages land in a real Parquet lake and load into DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.api.endpoints.v4 import V4_LIST
from tm_pipeline.api.endpoints.v4_codes import V4_CODE_TABLE
from tm_pipeline.api.errors import RateLimitedError, StopRunError, TransientApiError
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.api.status_codes import Action
from tm_pipeline.definitions import default_resources
from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.run import ExtractSummary, extract_window
from tm_pipeline.extract.windows import full_window
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.raw_tables import load_raw_tables
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "v4-paging-key"
TRACKINGS = 230  # four full pages of 50 and a short fifth
PAGE_LIMIT = 50
QUICK = RetryPolicy(max_transient_retries=2, backoff_initial_s=0.01, backoff_max_s=0.02,
                    pause_on_429_s=0.05, max_429_pauses=2)


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(trackings=TRACKINGS, seed=17)).running() as server:
        yield server


@pytest.fixture
def sandbox(module_sandbox: SandboxServer) -> Iterator[SandboxServer]:
    yield module_sandbox
    module_sandbox.set_faults({})


_keys_made = iter(range(1_000_000))


def _extract(server: SandboxServer, data_dir: Path, page_limit: int = PAGE_LIMIT) -> ExtractSummary:
    """A full v4 walk with a fresh key: the limit is per key, and each test's pacer starts afresh."""
    key = f"{KEY}-{next(_keys_made)}"
    server.add_api_key(key)
    trackingmore = default_resources(data_dir, base_url=server.base_url_v4, api_key=key)["trackingmore"]
    assert trackingmore.endpoint() is V4_LIST
    client = trackingmore.client()
    try:
        fetcher = PageFetcher(client, trackingmore.pacer(), QUICK, trackingmore.endpoint())
        return extract_window(fetcher, Lake(data_dir / "lake"), full_window(), page_limit=page_limit)
    finally:
        client.close()


def _load(data_dir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as connection:
        load_raw_tables(connection, Lake(data_dir / "lake"))
        return connection.execute(sql).fetchall()


def _v4_requests(server: SandboxServer) -> dict[str, int]:
    return dict(server.stats()["by_endpoint_code"].get("/v4/trackings/get", {}))


def _requests_since(server: SandboxServer, before: dict[str, int]) -> dict[str, int]:
    now = _v4_requests(server)
    return {code: count - before.get(code, 0) for code, count in now.items() if count != before.get(code, 0)}


def _truth_ids(server: SandboxServer) -> list[str]:
    return sorted(str(item["id"]) for item in server.truth_trackings())


def test_a_short_last_page_ends_the_walk_with_every_tracking(sandbox: SandboxServer, tmp_path: Path) -> None:
    before = _v4_requests(sandbox)
    summary = _extract(sandbox, tmp_path)
    assert _requests_since(sandbox, before) == {"200": 5}, "four full pages and the short one; nothing after"
    assert summary.rows == TRACKINGS and summary.total_reported is None and summary.drift == []
    assert [row[0] for row in _load(tmp_path, "SELECT tracking_id FROM raw.trackings ORDER BY 1")] == _truth_ids(
        sandbox
    )


def test_an_empty_page_ends_the_walk_and_its_call_is_in_the_ledger(sandbox: SandboxServer, tmp_path: Path) -> None:
    """230 rows in pages of 46 fill exactly five pages: the empty sixth is the only way to know the end."""
    before = _v4_requests(sandbox)
    summary = _extract(sandbox, tmp_path, page_limit=46)
    assert _requests_since(sandbox, before) == {"200": 6}
    assert summary.pages == 5 and summary.rows == TRACKINGS
    calls = _load(tmp_path, "SELECT page, rows, api_version, meta_type FROM raw.api_calls ORDER BY call_seq")
    assert calls == [(page, 46 if page <= 5 else 0, "v4", None) for page in range(1, 7)]


def test_a_short_page_mid_walk_ends_it_there(sandbox: SandboxServer, tmp_path: Path) -> None:
    """Without a total, a short page cannot be told from the last one: the walk stops after it
    (docs/operations.md says so). The sandbox cuts page 2 to 10 items."""
    sandbox.set_faults({"page_caps": {"2": 10}})
    before = _v4_requests(sandbox)
    summary = _extract(sandbox, tmp_path)
    assert _requests_since(sandbox, before) == {"200": 2}
    assert summary.rows == PAGE_LIMIT + 10 and summary.possible_gaps == []


def test_an_empty_first_page_lands_nothing_and_completes(sandbox: SandboxServer, tmp_path: Path) -> None:
    sandbox.set_faults({"page_caps": {"1": 0}})
    summary = _extract(sandbox, tmp_path)
    assert (summary.pages, summary.rows, summary.calls) == (0, 0, 1)
    assert Lake(tmp_path / "lake").manifests()[0].status == "complete"


def test_429_pauses_then_resumes_without_losing_pages(sandbox: SandboxServer, tmp_path: Path) -> None:
    sandbox.set_faults({"burst_429": 2})
    before = _v4_requests(sandbox)
    summary = _extract(sandbox, tmp_path)
    assert _requests_since(sandbox, before) == {"429": 2, "200": 5}
    assert summary.codes == {"429": 2, "200": 5}
    codes = _load(tmp_path, "SELECT page, attempt, http_status, meta_code FROM raw.api_calls ORDER BY call_seq")
    assert codes[:3] == [(1, 1, 429, 429), (1, 2, 429, 429), (1, 3, 200, 200)]
    assert [row[0] for row in _load(tmp_path, "SELECT tracking_id FROM raw.trackings ORDER BY 1")] == _truth_ids(
        sandbox
    )


_EXPECTED_ERROR = {
    Action.STOP: StopRunError,
    Action.RETRY_WITH_BACKOFF: TransientApiError,
    Action.PAUSE_THEN_RETRY: RateLimitedError,
}
_ATTEMPTS = {
    Action.STOP: 1,
    Action.RETRY_WITH_BACKOFF: 1 + QUICK.max_transient_retries,
    Action.PAUSE_THEN_RETRY: 1 + QUICK.max_429_pauses,
}
_FAILING_CODES = sorted(code for code, status in V4_CODE_TABLE.items() if status.action is not Action.ACCEPT)


@pytest.mark.parametrize("code", _FAILING_CODES)
def test_each_v4_code_is_acted_on_as_its_table_says(sandbox: SandboxServer, tmp_path: Path, code: int) -> None:
    """Every request answers `code` (in v4's envelope, HTTP status mirroring it): the run stops,
    retries or pauses exactly as often as the v4 table's action allows, and the ledger records
    each attempt with the code, judged by the v4 table."""
    action = V4_CODE_TABLE[code].action
    sandbox.set_faults({"error_rates": {str(code): 1.0}})
    before = _v4_requests(sandbox)
    with pytest.raises(_EXPECTED_ERROR[action]) as raised:
        _extract(sandbox, tmp_path)
    assert str(code) in str(raised.value) and f"{KEY}-" not in str(raised.value)
    assert _requests_since(sandbox, before) == {str(code): _ATTEMPTS[action]}
    expected_http = 400 if code >= 1000 else 500 if code >= 500 else code
    calls = _load(tmp_path, "SELECT DISTINCT meta_code, http_status, api_version FROM raw.api_calls")
    assert calls == [(code, expected_http, "v4")]
