"""One pipeline run after the extraction (load → models → checks → publish) in a fresh process.

Run as `python -m tm_pipeline.bench.warehouse_run_worker DATA_DIR [--full-load] [--memory-limit 4GB] [--no-models]
[--full-history-every-hours H]`; prints the seconds of each stage and the process's peak RSS as JSON.
The stages are the libraries the Dagster assets call, without Dagster's event log, so the figures
are the pipeline's own work.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tm_pipeline.bench.models_rebuild import DEFAULT_SQL_DIR
from tm_pipeline.bench.peak_rss import peak_rss_mb
from tm_pipeline.checks.api_ledger import ledger_checks, read_latest_run
from tm_pipeline.checks.quarantine import judge_quarantine
from tm_pipeline.contracts.warehouse_file import DuckDBLimits, connect_build
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.build_file import build_rebuilding_if_corrupt
from tm_pipeline.load.warehouse_load import load_warehouse
from tm_pipeline.models.data_tests import compile_tests, run_tests
from tm_pipeline.models.project import load_project
from tm_pipeline.models.runner import build_all
from tm_pipeline.publish.snapshot import publish_snapshot


def run_once(
    data_dir: Path, full_load: bool, limits: DuckDBLimits, models: bool = True,
    full_history_every: timedelta | None = None,
) -> dict[str, Any]:
    """One run's stages on `data_dir`; `models=False` measures the load and the publish alone;
    full_history_every: TM_FULL_HISTORY_EVERY_HOURS's cadence (None: every run reads all history)."""
    build_file, published_file = data_dir / "build" / "warehouse.duckdb", data_dir / "warehouse.duckdb"
    lake = Lake(data_dir / "lake")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    summary = build_rebuilding_if_corrupt(
        build_file, lambda connection: load_warehouse(connection, lake, full_load), limits=limits
    )
    seconds["load_s"] = time.perf_counter() - started
    peak_rss_mb_after_load = peak_rss_mb()
    failing_tests: list[str] = []
    kept: list[str] = []
    failing_api_checks: list[str] = []
    if models:
        project = load_project(DEFAULT_SQL_DIR)
        with connect_build(build_file, limits=limits) as connection:
            connection.execute("SET enable_progress_bar = false")
            started = time.perf_counter()
            results = build_all(connection, project, full_history_every=full_history_every)
            seconds["models_s"] = time.perf_counter() - started
            kept = [result.model for result in results if result.full_history_kept]
            started = time.perf_counter()
            # as the checks of a run do: per-row tests over the changed trackings where sound (data_tests.py)
            tests = compile_tests(project)
            outcomes = run_tests(connection, tests, incremental=True, full_history_every=full_history_every)
            failing_tests = [test.name for test, outcome in zip(tests, outcomes, strict=True) if not outcome.passed]
            latest = read_latest_run(connection)
            failing_api_checks = [check.name for check in ledger_checks() if not check.judge(latest).passed]
            judge_quarantine(connection)
            seconds["checks_s"] = time.perf_counter() - started
    started = time.perf_counter()
    published_bytes = publish_snapshot(build_file, published_file, limits=limits)
    seconds["publish_s"] = time.perf_counter() - started
    return {
        **seconds,
        "total_s": sum(seconds.values()),
        "mode": summary.mode,
        "full_reason": summary.full_reason,
        "trackings": summary.trackings,
        "checkpoints": summary.checkpoints,
        "trackings_changed": summary.trackings_changed,
        "files_read": summary.files_read,
        "manifests": len(summary.audit.manifests),
        "published_mb": round(published_bytes / 1e6, 1),
        "failing_data_tests": failing_tests,
        "full_history_kept": len(kept),
        "failing_api_checks": failing_api_checks,
        "peak_rss_mb_after_load": peak_rss_mb_after_load,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--full-load", action="store_true")
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--no-models", action="store_true", help="measure the load and the publish alone")
    parser.add_argument("--full-history-every-hours", type=float, default=0.0, help="0: every run (the default)")
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    limits = DuckDBLimits(args.memory_limit, str(data_dir / "build" / "duckdb_tmp"))
    every = timedelta(hours=args.full_history_every_hours) if args.full_history_every_hours > 0 else None
    print(json.dumps(run_once(data_dir, args.full_load, limits, models=not args.no_models, full_history_every=every)))


if __name__ == "__main__":
    main()
