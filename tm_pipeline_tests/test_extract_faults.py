"""Extraction over a hostile sandbox: 5xx, timeouts, truncated bodies, a 429 burst and data that moves
while we page. After a run and its successor, DuckDB holds exactly the sandbox's truth, raw tables
and marts alike."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.bench.truth_compare import MART_GROUPS, mart_mismatches, truth_parameters
from tm_pipeline.definitions import SQL_DIR, default_resources
from tm_pipeline.runs import materialize_all
from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.sandbox.faults import FaultConfig

KEY = "fault-test-key"
RATE_PER_S = 4.0  # the same pacing mechanism as 1/s, four times faster so the test stays short
FAULTS = FaultConfig(
    error_rates={"500": 0.05, "503": 0.05}, timeout_rate=0.02, timeout_hold_s=3.0, truncate_rate=0.01,
    burst_429=1, seed=3,
)


@pytest.fixture(scope="module")
def hostile_sandbox():
    config = SandboxConfig(
        trackings=6000, seed=5, api_keys=(KEY,), list_rate_per_s=RATE_PER_S, faults=FAULTS,
        mutate_every_n_list_requests=2, mutate_advance_minutes=20, new_trackings_per_day=3000,
    )
    with SandboxServer(config).running() as server:
        yield server


def _run(server: SandboxServer, data_dir: Path) -> None:
    resources = default_resources(
        data_dir, base_url=server.base_url, api_key=KEY, list_rate_per_s=RATE_PER_S, page_limit=500,
        timeout_s=1.0, pause_on_429_s=1.5, max_transient_retries=10,
    )
    result = materialize_all(resources, data_dir, run_config_ops={"trackingmore_extract": {"overlap_s": 86400.0}})
    assert result.success


def test_faulty_moving_source_ends_equal_to_truth_after_run_and_successor(
    hostile_sandbox: SandboxServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    _run(hostile_sandbox, data_dir)
    faults_first_run = dict(hostile_sandbox.stats()["faults"])
    # The successor sees faults but no more movement, so its result can be compared with the truth.
    hostile_sandbox.config = dataclasses.replace(hostile_sandbox.config, mutate_every_n_list_requests=0)
    _run(hostile_sandbox, data_dir)

    truth = {
        item["id"]: datetime.fromisoformat(item["updated_at"]) if item["updated_at"] else None
        for item in hostile_sandbox.truth_trackings()
    }
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        landed = connection.execute(
            "SELECT tracking_id, updated_at FROM raw.trackings"
        ).fetchall()
        duplicates = connection.execute(
            "SELECT count(*) - count(DISTINCT tracking_id) FROM raw.trackings"
        ).fetchall()[0][0]
        ledger_faults = dict(connection.execute(
            """SELECT coalesce(failure, CAST(meta_code AS VARCHAR)), count(*) FROM raw.api_calls
               WHERE failure IS NOT NULL OR meta_code <> 200 GROUP BY ALL"""
        ).fetchall())

    assert duplicates == 0
    assert len(landed) == len(truth), "trackings lost or invented"
    stale = [tid for tid, updated in landed if truth[tid] != updated]
    assert stale == [], f"{len(stale)} trackings are older in DuckDB than in the sandbox"
    assert faults_first_run.get("burst_429") == 1
    assert sum(faults_first_run.values()) > 1, "the first run must have met faults besides the 429 burst"

    served = hostile_sandbox.stats()["faults"]
    recorded = {
        "error_500": ledger_faults.get("500", 0),
        "error_503": ledger_faults.get("503", 0),
        "timeout": ledger_faults.get("timeout", 0),
        "truncate": ledger_faults.get("truncated", 0) + ledger_faults.get("not_json", 0),
        "429": ledger_faults.get("429", 0),
    }
    assert recorded == {
        "error_500": served.get("error_500", 0),
        "error_503": served.get("error_503", 0),
        "timeout": served.get("timeout", 0),
        "truncate": served.get("truncate", 0),
        "429": hostile_sandbox.stats()["served_429"],
    }
    # Every fault the server served was followed by another attempt at the same page: none was
    # taken for an answer (the run succeeding with all trackings says the retries then worked).
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        faulty, unretried = connection.execute(
            """SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (
                   SELECT 1 FROM raw.api_calls AS later
                   WHERE later.extraction_id = fault.extraction_id AND later.page = fault.page
                     AND later.call_seq > fault.call_seq))
               FROM raw.api_calls AS fault
               WHERE fault.failure IN ('timeout', 'truncated', 'not_json') OR fault.meta_code IN (429, 500, 503)"""
        ).fetchone()
    assert faulty == sum(recorded.values())
    assert unretried == 0, f"{unretried} faulty calls were never retried"

    # Every mart, the journey marts included, ends equal to the truth however the pages arrived.
    metrics = hostile_sandbox.expected_metrics(**truth_parameters(SQL_DIR))
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        mismatches = [problem for mart in MART_GROUPS for problem in mart_mismatches(connection, mart, metrics[mart])]
    assert mismatches == []
