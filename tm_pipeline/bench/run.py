"""The benchmark suite behind README's figures. Every figure is measured here, never asserted in tests.

Each section starts its own sandbox process (strict 1 req/s for pacing, unthrottled for throughput)
and runs the pipeline code in a fresh worker process, so timings and peak RSS belong to the pipeline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from tm_pipeline.bench.sandbox_process import BENCH_KEY, sandbox_process, sandbox_stats, sandbox_truth
from tm_pipeline.bench.soak import bench_soak
from tm_pipeline.bench.truth_compare import MART_GROUPS, mart_mismatches
from tm_pipeline.extract.run import MAX_PAGE_LIMIT

SECTIONS = (
    "pacing", "v4_pacing", "accounts", "soak", "throughput", "correctness", "memory", "models", "scheduled",
    "webhooks", "compaction", "incremental", "incremental_10m",
)
# Run by default; incremental_10m (a 10M-tracking account, long) only when asked for with --only.
DEFAULT_SECTIONS = tuple(section for section in SECTIONS if section != "incremental_10m")


def _worker(base_url: str, data_dir: Path, rate: float = 0.0, load: bool = False) -> dict[str, Any]:
    command = [sys.executable, "-m", "tm_pipeline.bench.extract_worker", base_url, BENCH_KEY, str(data_dir),
               "--rate", str(rate)]
    if load:
        command.append("--load")
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark worker failed:\n{completed.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return report


def bench_pacing(pages: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Achieved list-request rate ÷ the allowed 1 req/s over `pages` full pages, against a strict sandbox
    (no tolerance, a handshake before the first request; connections kept open: that is the soak's)."""
    strict = ("--strict", "--close-connection-rate", "0")
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(
        pages * MAX_PAGE_LIMIT, 1.0, extra_args=strict
    ) as base_url:
        log(f"pacing: {pages} pages at 1 request/s against a strict sandbox (~{pages} s)")
        _worker(base_url, Path(tmp), rate=1.0)
        stats = sandbox_stats(base_url)
        calls = ds.dataset(str(Path(tmp) / "lake" / "api_calls"), format="parquet").to_table(
            columns=["requested_at"]
        )
    starts = sorted(value.timestamp() for value in calls["requested_at"].to_pylist())
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    # From the second request on: the first one opened the connection, so the second waited for its
    # answer (handshake and latency, once); what follows is the steady state.
    steady = (len(starts) - 2) / (starts[-1] - starts[1])
    return {
        "pages": len(starts),
        "allowed_rate_per_s": 1.0,
        "achieved_rate_per_s": achieved,
        "pacing_efficiency": achieved / 1.0,
        "steady_state_efficiency": steady / 1.0,
        "served_429": stats["served_429"],
        "max_rate_seen_by_sandbox": max(stats["max_list_rate_per_key"].values()),
        "min_arrival_gap_s_seen_by_sandbox": min(stats["min_list_gap_s_per_key"].values()),
    }


def bench_throughput(trackings: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Unthrottled HTTP → Parquet → DuckDB, end to end, in trackings per second."""
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(trackings, 0.0) as base_url:
        log(f"throughput: {trackings:,} trackings, unthrottled, HTTP to DuckDB")
        report = _worker(base_url, Path(tmp), load=True)
    end_to_end_s = report["extract_s"] + report["load_s"]
    return {
        "trackings": report["loaded_trackings"],
        "extract_trackings_per_s": report["rows"] / report["extract_s"],
        "load_s": report["load_s"],
        "end_to_end_trackings_per_s": report["loaded_trackings"] / end_to_end_s,
        "cpu_ms_per_2000_row_page": report["steady_cpu_ms_per_page"],
        "cpu_ms_per_page_including_start_up": report["extract_cpu_ms_per_page"],
        "first_page_cpu_ms": report["first_page_cpu_ms"],
    }


def bench_correctness(trackings: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Extract, load and build every model on `trackings`, then compare each mart with the truth."""
    import duckdb

    from tm_pipeline.bench.models_rebuild import rebuild_seconds

    with tempfile.TemporaryDirectory() as tmp, sandbox_process(trackings, 0.0) as base_url:
        log(f"correctness: every mart against the sandbox's ground truth on {trackings:,} trackings")
        _worker(base_url, Path(tmp), load=True)
        build_s = rebuild_seconds(Path(tmp) / "warehouse.duckdb")
        truth = sandbox_truth(base_url)
        with duckdb.connect(str(Path(tmp) / "warehouse.duckdb"), read_only=True) as connection:
            problems = {mart: mart_mismatches(connection, mart, truth[mart]) for mart in MART_GROUPS}
    return {
        "trackings": trackings,
        "models_build_s": build_s,
        "marts_equal_to_truth": {mart: not found for mart, found in problems.items()},
        "first_differences": [p for found in problems.values() for p in found][:5],
    }


def bench_memory(sizes: tuple[int, ...], log: Callable[[str], None],
                 keep_largest: Path | None = None) -> dict[str, Any]:
    """Peak RSS of the extraction process at each size; memory must not grow with the row count."""
    figures: dict[str, Any] = {}
    for trackings in sizes:
        data_dir = keep_largest if (keep_largest and trackings == max(sizes)) else Path(tempfile.mkdtemp())
        with sandbox_process(trackings, 0.0) as base_url:
            log(f"memory: extracting {trackings:,} trackings in a fresh process")
            report = _worker(base_url, data_dir, load=keep_largest is not None and trackings == max(sizes))
        figures[f"peak_rss_mb_at_{trackings}"] = report["extract_peak_rss_mb"]
        if "load_s" in report:
            figures[f"load_s_at_{trackings}"] = report["load_s"]
    smallest, largest = min(sizes), max(sizes)
    figures["rss_ratio_largest_to_smallest"] = (
        figures[f"peak_rss_mb_at_{largest}"] / figures[f"peak_rss_mb_at_{smallest}"]
    )
    return figures


def bench_models(database_path: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """A full rebuild of every model, then (on a copy) an incremental run after a load that
    changed 2,000 trackings, against a full rebuild of the same state, with per-model times."""
    from tm_pipeline.bench.models_rebuild import incremental_figures, rebuild_seconds

    log(f"models: rebuilding every model on {database_path}")
    full_rebuild_s = rebuild_seconds(database_path)
    log("models: a load changing 2,000 trackings, then the incremental build and a full one (a few minutes)")
    return {"full_rebuild_s": full_rebuild_s, "incremental": incremental_figures(database_path)}


def run_benchmarks(sections: tuple[str, ...], pages: int, throughput_trackings: int,
                   memory_sizes: tuple[int, ...], log: Callable[[str], None] = print,
                   scheduled_trackings: int = 20_000, soak_runs: int = 100,
                   incremental_trackings: int = 1_000_000,
                   incremental_points: tuple[int, ...] = (10, 100, 1000, 3000),
                   memory_limit: str = "4GB") -> dict[str, Any]:
    results: dict[str, Any] = {"measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    if "pacing" in sections:
        results["pacing"] = bench_pacing(pages, log)
    if "v4_pacing" in sections:
        from tm_pipeline.bench.v4_pacing import bench_v4_pacing

        results["v4_pacing"] = bench_v4_pacing(pages * 10, log)
    if "accounts" in sections:
        from tm_pipeline.bench.accounts import bench_accounts

        results["accounts"] = bench_accounts(pages, log)
    if "soak" in sections:
        results["soak"] = bench_soak(soak_runs, log)
    if "throughput" in sections:
        results["throughput"] = bench_throughput(throughput_trackings, log)
    if "correctness" in sections:
        results["correctness"] = bench_correctness(min(memory_sizes), log)
    if "memory" in sections or "models" in sections:
        with tempfile.TemporaryDirectory() as tmp:
            largest = Path(tmp)
            results["memory"] = bench_memory(memory_sizes, log, keep_largest=largest if "models" in sections else None)
            if "models" in sections:
                results["models"] = {"trackings": max(memory_sizes),
                                     **bench_models(largest / "warehouse.duckdb", log)}
    if "scheduled" in sections:
        from tm_pipeline.bench.scheduled import bench_scheduled

        results["scheduled"] = bench_scheduled(scheduled_trackings, log)
    if "webhooks" in sections:
        from tm_pipeline.bench.webhooks import bench_webhooks

        results["webhooks"] = bench_webhooks(log)
    if "compaction" in sections:
        from tm_pipeline.bench.compaction import bench_compaction

        results["compaction"] = bench_compaction(3000, log)
    if "incremental" in sections:
        from tm_pipeline.bench.incremental import bench_incremental

        # the lake as a deployment's is (compacted daily), then as it would be without compaction
        results["incremental"] = bench_incremental(
            incremental_trackings, incremental_points, log, memory_limit=memory_limit, cadences=(0, 24), compacted=True
        )
        results["incremental_uncompacted"] = bench_incremental(
            incremental_trackings, incremental_points, log, memory_limit=memory_limit, cadences=(0,)
        )
    if "incremental_10m" in sections:
        from tm_pipeline.bench.incremental import bench_incremental

        # every run reading the whole history (the default), then the history marts kept for a day
        results["incremental_10m"] = bench_incremental(
            10_000_000, (10,), log, memory_limit=memory_limit, cadences=(0, 24)
        )
    return results
