"""Malformed list items end to end: `tm-pipeline sync` against a sandbox serving one item of each
malformed kind lands every other tracking, quarantines those items with where and why, warns, and
exits 0 as it would for the good data alone. Real HTTP, real Dagster run, real lake and DuckDB."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.checks.quarantine import CHECK_NAME, judge_quarantine
from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.sandbox.faults import FaultConfig

REPO = Path(__file__).resolve().parent.parent
KEY = "quarantine-test-key"
TRACKINGS = 4500  # pages of 2000, 2000, 500
RATE_PER_S = 20.0
PAGE_LIMIT = 2000

# list position in the account -> (mutation served, field named, reason recorded)
MALFORMED = {
    0: ("lone_surrogate", "tracking_number", "lone_surrogate"),
    1999: ("not_object", None, "not_an_object"),
    2000: ("id_number", "id", "wrong_type"),
    3100: ("id_missing", "id", "missing"),
    4499: ("created_at_number", "created_at", "wrong_type"),
}


@dataclass
class SyncOutcome:
    completed: subprocess.CompletedProcess
    data_dir: Path
    truth: list[dict]
    stats: dict


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> SyncOutcome:
    faults = FaultConfig(malformed_items={str(position): kind[0] for position, kind in MALFORMED.items()})
    config = SandboxConfig(
        trackings=TRACKINGS, seed=29, api_keys=(KEY,), list_rate_per_s=RATE_PER_S, faults=faults
    )
    data_dir = tmp_path_factory.mktemp("quarantine") / "data"
    with SandboxServer(config).running() as server:
        env = {
            **os.environ,
            "TRACKINGMORE_BASE_URL": server.base_url,
            "TRACKINGMORE_API_KEY": KEY,
            "TRACKINGMORE_LIST_RATE_PER_S": str(RATE_PER_S),
        }
        completed = subprocess.run(
            [sys.executable, "-m", "tm_pipeline.cli", "sync", "--data-dir", str(data_dir)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )
        return SyncOutcome(completed, data_dir, server.truth_trackings(), server.stats())


def _expected_rows() -> list[tuple[int, int, str | None, str]]:
    """(page, position in page, field, reason) of each malformed item, in page order."""
    return [
        (position // PAGE_LIMIT + 1, position % PAGE_LIMIT, field, reason)
        for position, (_, field, reason) in MALFORMED.items()
    ]


def _query(outcome: SyncOutcome, sql: str) -> list[tuple]:
    with duckdb.connect(str(outcome.data_dir / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_sync_exits_0_and_warns_about_the_quarantine(synced: SyncOutcome) -> None:
    assert synced.completed.returncode == 0, synced.completed.stderr[-3000:]
    assert f"check failed (WARN): raw/quarantine:{CHECK_NAME}" in synced.completed.stderr


def test_every_well_formed_tracking_lands(synced: SyncOutcome) -> None:
    malformed_ids = {synced.truth[position]["id"] for position in MALFORMED}
    expected = sorted(item["id"] for item in synced.truth if item["id"] not in malformed_ids)
    landed = [row[0] for row in _query(synced, "SELECT tracking_id FROM raw.trackings ORDER BY 1")]
    assert landed == expected
    assert len(landed) == TRACKINGS - len(MALFORMED)


def test_each_malformed_item_is_quarantined_with_page_position_field_and_reason(synced: SyncOutcome) -> None:
    rows = _query(
        synced, "SELECT page, position, field, reason, tracking_id, raw_bytes FROM raw.quarantine ORDER BY 1, 2"
    )
    assert [row[:4] for row in rows] == _expected_rows()
    by_position = {row[0] * PAGE_LIMIT + row[1] - PAGE_LIMIT: row for row in rows}
    assert by_position[0][4] == synced.truth[0]["id"], "an item with a usable id keeps it in the quarantine"
    assert b'"tracking_number":"\\ud800' in by_position[0][5], "original bytes, not the sanitised copy"
    assert by_position[1999][5] == f'"{synced.truth[1999]["id"]}"'.encode()


def test_the_check_names_page_position_field_and_reason(synced: SyncOutcome) -> None:
    with duckdb.connect(str(synced.data_dir / "warehouse.duckdb"), read_only=True) as connection:
        verdict = judge_quarantine(connection)
        recorded = connection.execute(
            "SELECT passed, severity, value FROM main.dq_check_results WHERE check_name = ?", [CHECK_NAME]
        ).fetchall()
    assert verdict.quarantined == len(MALFORMED)
    named = [(item["page"], item["position"], item["field"], item["reason"]) for item in verdict.first_items]
    assert named == _expected_rows()
    assert recorded == [(False, "warn", float(len(MALFORMED)))]


def test_a_lone_surrogate_is_not_a_transient_error(synced: SyncOutcome) -> None:
    failures = _query(synced, "SELECT page, failure FROM raw.api_calls WHERE failure IS NOT NULL")
    attempts_of_page_1 = _query(synced, "SELECT count(*) FROM raw.api_calls WHERE page = 1")[0][0]
    assert synced.stats["faults"]["malformed_lone_surrogate"] >= 1, "the sandbox served the lone surrogate"
    assert failures == []
    assert attempts_of_page_1 == 1
