"""Benchmark: the scheduled path (schedule tick → queue → run launcher → run worker) against the CLI.

Both sync the same sandbox account from an empty data directory, one after the other, each in
fresh processes with the environment a deployment would set. The CLI figure is the `tm-pipeline
sync` process from start to exit; the scheduled figure is from the schedule tick creating the run
to the run's end, which is what a user watching the UI waits for. Loading the code location once
per daemon (not per run) is reported apart.

`python -m tm_pipeline.bench.scheduled REPORT.json` is the daemon-style worker.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tm_pipeline import settings
from tm_pipeline.bench.sandbox_process import BENCH_KEY, sandbox_process, sandbox_stats

RATE_LIMIT_GAP_S = 2.0  # the two runs share the sandbox key's 1 request/second; no 429 between them


def _environment(base_url: str, data_dir: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    environment.update({settings.API_KEY_VAR: BENCH_KEY, settings.BASE_URL_VAR: base_url,
                        settings.DATA_DIR_VAR: str(data_dir), "DAGSTER_HOME": str(data_dir / "dagster_home")})
    return environment


def _cli_sync_s(base_url: str, data_dir: Path) -> float:
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "tm_pipeline.cli", "sync"], env=_environment(base_url, data_dir),
                               capture_output=True, text=True, check=False)
    elapsed_s = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"tm-pipeline sync failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return elapsed_s


def _scheduled_sync(base_url: str, data_dir: Path) -> dict[str, Any]:
    from tm_pipeline.runs import dagster_home

    dagster_home(data_dir)  # the pool limits, as `tm-pipeline ui` writes them
    report_path = data_dir / "scheduled_run.json"  # the run worker logs to stdout too
    completed = subprocess.run([sys.executable, "-m", "tm_pipeline.bench.scheduled", str(report_path)],
                               env=_environment(base_url, data_dir), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"scheduled-run worker failed:\n{completed.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(report_path.read_text())
    return report


def bench_scheduled(trackings: int, log: Callable[[str], None], rounds: int = 2) -> dict[str, Any]:
    """Wall time of a first sync of `trackings` at 1 request/second: CLI vs daemon-style launch.

    Rounds alternate which path goes first, so neither always pays the sandbox's warm-up.
    """
    cli_s: list[float] = []
    scheduled: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(trackings, 1.0) as base_url:
        for round_number in range(rounds):
            log(f"scheduled: round {round_number + 1}/{rounds}, {trackings:,} trackings at 1 request/s, "
                "`tm-pipeline sync` and a schedule tick")
            root = Path(tmp) / f"round-{round_number}"
            order = ("cli", "scheduled") if round_number % 2 == 0 else ("scheduled", "cli")
            for path in order:
                if path == "cli":
                    cli_s.append(_cli_sync_s(base_url, root / "cli"))
                else:
                    scheduled.append(_scheduled_sync(base_url, root / "scheduled"))
                time.sleep(RATE_LIMIT_GAP_S)
        served_429 = sandbox_stats(base_url)["served_429"]
    tick_to_end_s = [run["submitted_to_finished_s"] for run in scheduled]
    return {
        "trackings": trackings,
        "cli_sync_s": [round(value, 2) for value in cli_s],
        "scheduled_tick_to_run_end_s": [round(value, 2) for value in tick_to_end_s],
        "scheduled_run_worker_s": [round(run["run_wall_s"], 2) for run in scheduled],
        "code_location_load_s": [round(run["code_location_load_s"], 2) for run in scheduled],
        "scheduled_over_cli_median": round(statistics.median(tick_to_end_s) / statistics.median(cli_s), 2),
        "scheduled_status": sorted({run["status"] for run in scheduled}),
        "served_429": served_429,
    }


def main() -> int:
    from tm_pipeline.bench.daemon_launch import launch_scheduled_sync
    from tm_pipeline.runs import instance_for

    with instance_for(settings.data_dir()) as instance:
        launched = launch_scheduled_sync(instance)
    Path(sys.argv[1]).write_text(json.dumps(asdict(launched)))
    return 0 if launched.status == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
