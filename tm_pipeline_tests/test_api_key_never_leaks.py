"""The API key must appear in no file, log line, exception or Dagster event.

Two headless runs go through the CLI exactly as a scheduler would start them — one that succeeds
and one whose key the API refuses — and then every byte they left behind is scanned.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

from tm_pipeline.sandbox import SandboxServer

REPO = Path(__file__).resolve().parent.parent


def _sync(data_dir: Path, base_url: str, api_key: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRACKINGMORE_BASE_URL": base_url, "TRACKINGMORE_API_KEY": api_key,
           "TM_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "tm_pipeline.cli", "sync"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _files_containing(root: Path, needle: bytes) -> list[str]:
    return [str(path) for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


@pytest.mark.parametrize(("version", "refused_code"), [("v2", "4001"), ("v4", "401")])
def test_key_is_in_no_file_log_exception_or_event(
    sandbox: SandboxServer, tmp_path: Path, version: str, refused_code: str
) -> None:
    """v4 sends the key in another header and answers a wrong key with HTTP 401: same rules."""
    good_key = f"goodkey{uuid.uuid4().hex}"
    refused_key = f"refusedkey{uuid.uuid4().hex}"
    sandbox.add_api_key(good_key)
    data_dir = tmp_path / "data"
    base_url = sandbox.base_url_v4 if version == "v4" else sandbox.base_url

    succeeded = _sync(data_dir, base_url, good_key)
    refused = _sync(data_dir, base_url, refused_key)

    assert succeeded.returncode == 0, succeeded.stderr[-2000:]
    assert refused.returncode == 3  # EXIT_API_REFUSED: a scheduler must not retry this
    assert f"TrackingMore answered {refused_code} " in refused.stderr
    assert "TRACKINGMORE_API_KEY" in refused.stderr  # it says what to do
    for key in (good_key, refused_key):
        assert key not in succeeded.stdout + succeeded.stderr + refused.stdout + refused.stderr
        assert _files_containing(data_dir, key.encode()) == []

    instance = dg.DagsterInstance.from_config(str(data_dir / "dagster_home"))
    events = [repr(record) for run in instance.get_runs() for record in instance.all_logs(run.run_id)]
    assert len(events) > 50  # the runs were really recorded
    assert not any(good_key in event or refused_key in event for event in events)
