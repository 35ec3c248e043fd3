"""A run killed with SIGKILL mid-extraction resumes where it stopped and ends equal to the truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tm_pipeline.sandbox import SandboxServer

REPO = Path(__file__).resolve().parent.parent


def _sync(data_dir: Path, sandbox: SandboxServer, api_key: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "TRACKINGMORE_BASE_URL": sandbox.base_url,
        "TRACKINGMORE_API_KEY": api_key,
        "TM_DATA_DIR": str(data_dir),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tm_pipeline.cli", "sync"], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _committed_pages(data_dir: Path) -> int:
    manifests = list((data_dir / "lake" / "manifests").glob("*.json"))
    return sum(len(json.loads(path.read_text())["pages"]) for path in manifests) if manifests else 0


def test_sigkilled_run_resumes_without_refetching_committed_pages(
    sandbox: SandboxServer, api_key: str, data_dir: Path
) -> None:
    first = _sync(data_dir, sandbox, api_key)
    deadline = time.monotonic() + 120
    while _committed_pages(data_dir) < 1:
        assert first.poll() is None, first.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no page was committed in time"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    committed_before_kill = _committed_pages(data_dir)
    assert 1 <= committed_before_kill < 3, "the kill must land mid-extraction"

    second = _sync(data_dir, sandbox, api_key)
    _, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr[-3000:]

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        landed = [row[0] for row in connection.execute("SELECT tracking_id FROM raw.trackings ORDER BY 1").fetchall()]
        fetched_pages = connection.execute(
            "SELECT page, count(*) FROM raw.api_calls WHERE meta_code = 200 GROUP BY page ORDER BY page"
        ).fetchall()
    assert landed == sorted(item["id"] for item in sandbox.truth_trackings())
    assert fetched_pages == [(1, 1), (2, 1), (3, 1)], "a committed page was fetched twice"
    assert "resuming extraction" in stderr
