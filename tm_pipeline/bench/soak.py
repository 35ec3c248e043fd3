"""Soak: a hundred short paced runs against a strict sandbox on a busy machine, counting its 429s.

The sandbox runs with `--strict` in its own process (no arrival tolerance, a 0.15 s handshake per
new connection, one reply in ten closing its connection, 120 s of 429 after a 429); the runs go in
a worker process; a third process burns a CPU the whole time, so threads are held and stamps run
late as on a loaded scheduler host. The server's own counts are the verdict: 429s, and the shortest
gap between two arrivals of the key.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tm_pipeline.bench.sandbox_process import BENCH_KEY, sandbox_process, sandbox_stats
from tm_pipeline.sandbox import key_fingerprint

SOAK_TRACKINGS = 3000
SOAK_PAGE_LIMIT = 1000  # a full run is three pages; an idle incremental run is two requests
ALLOWED_RATE_PER_S = 1.0


@contextmanager
def cpu_burner(seconds: float) -> Iterator[None]:
    """Another process spinning on a CPU for at most `seconds`, stopped on exit."""
    spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    burner = subprocess.Popen([sys.executable, "-c", spin])
    try:
        yield
    finally:
        burner.terminate()
        burner.wait(timeout=30)


def efficiency(sends: list[dict[str, Any]]) -> dict[str, float]:
    """Achieved rate ÷ allowed rate from the requests' send times.

    steady state: consecutive sends in one run after a request on a reused connection (what the
    pacer can do when nothing is unknown); within runs: every consecutive pair in a run (includes
    the answer latency paid after each new connection); overall: first to last send of the soak
    (also includes starting each run)."""
    interval_s = 1.0 / ALLOWED_RATE_PER_S
    steady, within = [], []
    for earlier, later in zip(sends, sends[1:], strict=False):
        if earlier["run"] != later["run"]:
            continue
        gap = later["sent_at"] - earlier["sent_at"]
        within.append(gap)
        if not earlier["new_connection"]:
            steady.append(gap)
    span = sends[-1]["sent_at"] - sends[0]["sent_at"] if len(sends) > 1 else 0.0
    return {
        "steady_state": interval_s * len(steady) / sum(steady) if steady else 0.0,
        "within_runs": interval_s * len(within) / sum(within) if within else 0.0,
        "overall": interval_s * (len(sends) - 1) / span if span else 0.0,
    }


def bench_soak(runs: int, log: Callable[[str], None], deadline_s: float = 540.0) -> dict[str, Any]:
    """`runs` paced runs (alternately full and idle incremental) against the strict sandbox."""
    with tempfile.TemporaryDirectory() as tmp, cpu_burner(deadline_s + 120), sandbox_process(
        SOAK_TRACKINGS, ALLOWED_RATE_PER_S, extra_args=("--strict", "--close-connection-seed", "9")
    ) as base_url:
        log(f"soak: {runs} short paced runs against a strict sandbox, a CPU kept busy (~{runs * 3} s)")
        command = [sys.executable, "-m", "tm_pipeline.bench.soak_worker", base_url, BENCH_KEY, tmp,
                   "--runs", str(runs), "--deadline-s", str(deadline_s), "--page-limit", str(SOAK_PAGE_LIMIT)]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"soak worker failed:\n{completed.stderr[-3000:]}")
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        stats = sandbox_stats(base_url)
    fingerprint = key_fingerprint(BENCH_KEY)
    sends = report["sends"]
    return {
        "runs": report["runs"],
        "requests_sent": len(sends),
        "new_connections": sum(send["new_connection"] for send in sends),
        "connections_opened_by_server": stats["connections_opened"],
        "served_429": stats["served_429"],
        "list_429_for_key": stats["list_429_per_key"].get(fingerprint, 0),
        "min_arrival_gap_s_seen_by_server": stats["min_list_gap_s_per_key"].get(fingerprint),
        "arrivals_without_kernel_stamp": stats["arrivals_without_kernel_stamp"],
        "pacing_efficiency": efficiency(sends),
        "full_runs_with_all_rows": sum(rows == SOAK_TRACKINGS for rows in report["full_run_rows"]),
        "full_runs": len(report["full_run_rows"]),
        "failed_runs": report["failed_runs"][:5],
        "elapsed_s": report["elapsed_s"],
    }
