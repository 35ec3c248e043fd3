"""`tm-pipeline ui --sandbox` starts the real Dagster UI on 127.0.0.1, with the pipeline's Dagster home.

The whole `dagster dev` process tree (webserver, daemon, code server) runs for real; the test
waits for it within a bound, asks its GraphQL API what it loaded, then stops it with SIGTERM as a
service manager would, and checks that every process of the tree ended.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120.0  # three Python processes import Dagster on a shared 2-core machine
STOP_TIMEOUT_S = 60.0
LOADED_QUERY = (
    "{ repositoriesOrError { ... on RepositoryConnection { nodes { "
    "jobs { name } schedules { name } sensors { name sensorState { status } } } } } }"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait_until_loaded(process: subprocess.Popen, port: int, log_path: Path) -> dict:
    """The code location as the UI sees it, once loaded; fails if the UI dies or the bound passes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ui exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
        try:
            nodes = _graphql(port, LOADED_QUERY)["data"]["repositoriesOrError"].get("nodes") or []
            if nodes:
                return nodes[0]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError):
            pass  # not listening yet, or still loading the code location
        time.sleep(1.0)
    raise AssertionError(f"the UI did not answer within {START_TIMEOUT_S:.0f} s:\n{log_path.read_text()[-3000:]}")


def _group_alive(group_id: int) -> bool:
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    return True


def test_ui_serves_the_pipeline_on_localhost_and_stops_with_its_whole_tree(tmp_path: Path) -> None:
    data_dir, log_path, port = tmp_path / "data", tmp_path / "ui.log", _free_port()
    stray_homes_before = set(REPO.glob(".tmp_dagster_home_*"))
    command = [sys.executable, "-m", "tm_pipeline.cli", "ui", "--sandbox", "--sandbox-trackings", "200",
               "--port", str(port), "--data-dir", str(data_dir)]
    environment = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        loaded = _wait_until_loaded(process, port, log_path)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=10) as response:
            assert response.status == 200 and "dagster_version" in json.loads(response.read())
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_S)
        deadline = time.monotonic() + 10
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)  # the tree's last children may take a moment after the parent returns
        assert not _group_alive(process.pid), "dagster dev left processes behind"
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    assert {job["name"] for job in loaded["jobs"]} >= {"incremental_sync", "pushes_to_warehouse"}
    assert {s["name"] for s in loaded["schedules"]} == {"incremental_sync_every_3_hours", "lake_compaction_daily"}
    assert {(s["name"], s["sensorState"]["status"]) for s in loaded["sensors"]} == {
        ("eager_assets_follow_upstream", "RUNNING"), ("pushes_waiting", "RUNNING")
    }
    log_text = log_path.read_text()
    assert "runs use the sandbox http://127.0.0.1:" in log_text
    home = data_dir / "dagster_home"
    assert "default_limit: 1" in (home / "dagster.yaml").read_text()
    assert (home / "history").is_dir()  # dagster dev kept its runs under our home, not a temporary one
    assert set(REPO.glob(".tmp_dagster_home_*")) == stray_homes_before
    assert not list(data_dir.glob(".tmp_dagster_home_*"))
