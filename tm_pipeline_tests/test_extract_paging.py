"""Paging ends on the data, not on `total`; a walk that may have missed rows never moves a watermark.

A real sandbox over HTTP is told to misreport `total`; pages land in a real Parquet lake and load
into a real DuckDB file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.definitions import default_resources
from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.run import ExtractSummary, PageProgress, ProgressCallback, extract_window, sync_state
from tm_pipeline.extract.windows import Window, full_window, incremental_windows
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.raw_tables import load_raw_tables
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "paging-test-key"
TRACKINGS = 5000  # two full 2000-row pages and a short one
RATE_PER_S = 20.0  # the same pacing mechanism as 1/s, faster so the tests stay short


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(trackings=TRACKINGS, seed=23, api_keys=(KEY,), list_rate_per_s=RATE_PER_S)
    with SandboxServer(config).running() as server:
        yield server


@pytest.fixture
def sandbox(module_sandbox: SandboxServer) -> Iterator[SandboxServer]:
    yield module_sandbox
    module_sandbox.set_faults({})


def _extract(
    server: SandboxServer,
    data_dir: Path,
    window: Window,
    progress: ProgressCallback = lambda progress: None,
    page_limit: int | None = None,
) -> ExtractSummary:
    trackingmore = default_resources(
        data_dir, base_url=server.base_url, api_key=KEY, list_rate_per_s=RATE_PER_S
    )["trackingmore"]
    client = trackingmore.client()
    try:
        fetcher = PageFetcher(client, trackingmore.pacer(), trackingmore.retry_policy())
        return extract_window(fetcher, Lake(data_dir / "lake"), window, page_limit=page_limit, progress=progress)
    finally:
        client.close()


def _loaded_ids(data_dir: Path) -> list[str]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as connection:
        load_raw_tables(connection, Lake(data_dir / "lake"))
        return sorted(row[0] for row in connection.execute("SELECT tracking_id FROM raw.trackings").fetchall())


def _list_pages_served(server: SandboxServer) -> int:
    return server.stats()["by_endpoint_code"].get("/v2/trackings/get", {}).get("200", 0)


def test_total_too_low_still_lands_every_tracking_and_records_drift(sandbox: SandboxServer, tmp_path: Path) -> None:
    sandbox.set_faults({"total_override": TRACKINGS // 2 - 1})  # 2,499 of 5,000: the numbers
    served_before = _list_pages_served(sandbox)

    summary = _extract(sandbox, tmp_path, full_window())

    truth_ids = sorted(item["id"] for item in sandbox.truth_trackings())
    assert len(truth_ids) == TRACKINGS
    assert _loaded_ids(tmp_path) == truth_ids
    assert _list_pages_served(sandbox) - served_before == 3, "two full pages, then the short one that ends the walk"
    assert [event for event in summary.drift if "reported only 2499" in event], summary.drift
    assert summary.possible_gaps == [], "more rows than total is a wrong total, not a missed row"
    assert sync_state(Lake(tmp_path / "lake").manifests()).max_updated_at is not None


def test_the_empty_page_that_ends_a_walk_is_in_the_ledger(sandbox: SandboxServer, tmp_path: Path) -> None:
    """5,000 rows in 1,000-row pages: five full pages, then an empty sixth that lands no page file.
    Its call is still evidence, so it must reach the ledger (it used to be dropped)."""
    served_before = _list_pages_served(sandbox)

    summary = _extract(sandbox, tmp_path, full_window(), page_limit=1000)

    assert _list_pages_served(sandbox) - served_before == 6
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        load_raw_tables(connection, Lake(tmp_path / "lake"))
        calls = connection.execute("SELECT page, rows FROM raw.api_calls ORDER BY call_seq").fetchall()
    assert calls == [(1, 1000), (2, 1000), (3, 1000), (4, 1000), (5, 1000), (6, 0)]
    assert summary.calls == 6 and summary.pages == 5


def test_total_too_high_records_drift_and_holds_the_watermark(sandbox: SandboxServer, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    _extract(sandbox, tmp_path, full_window())
    before = sync_state(lake.manifests())
    sandbox.advance_clock(48)  # trackings refresh: the next incremental run has rows to fetch
    sandbox.set_faults({"total_scale": 1.5})

    windows = incremental_windows(before, overlap_s=3600)
    lying = {window.key: _extract(sandbox, tmp_path, window) for window in windows}

    updated = lying["updated"]
    assert updated.rows > 0
    assert updated.possible_gaps and [event for event in updated.drift if "may be missing" in event]
    newest_seen = max(m.max_updated_at or 0 for m in lake.manifests() if m.extraction_id == updated.extraction_id)
    assert newest_seen > before.max_updated_at, "the run saw newer rows: only the rule keeps the watermark back"
    after = sync_state(lake.manifests())
    assert (after.max_updated_at, after.max_created_at) == (before.max_updated_at, before.max_created_at)
    assert incremental_windows(after, overlap_s=3600) == windows, "the next run asks again from the older watermark"

    sandbox.set_faults({})
    for window in windows:
        _extract(sandbox, tmp_path, window)
    assert sync_state(lake.manifests()).max_updated_at == newest_seen, "an honest walk moves it again"
    assert _loaded_ids(tmp_path) == sorted(item["id"] for item in sandbox.truth_trackings())


def test_total_changing_mid_walk_is_a_possible_gap_even_when_the_counts_agree(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    real_total = len(sandbox.truth_trackings())  # earlier tests may have moved the clock on
    sandbox.set_faults({"total_override": real_total - 1})

    def tell_the_truth_after_page_1(progress: PageProgress) -> None:
        if progress.page == 1:
            sandbox.set_faults({})

    summary = _extract(sandbox, tmp_path, full_window(), tell_the_truth_after_page_1)

    assert summary.rows == summary.total_reported == real_total, "the walk ends with counts that agree"
    assert [gap for gap in summary.possible_gaps if f"total changed from {real_total - 1} to {real_total}" in gap]
    assert sync_state(Lake(tmp_path / "lake").manifests()).max_updated_at is None
