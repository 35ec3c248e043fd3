"""The benchmark workers' peak RSS is their own, not the high-water mark of the process that started them."""

from __future__ import annotations

import subprocess
import sys

from tm_pipeline.bench.peak_rss import peak_rss_mb

PRINT_PEAK = "from tm_pipeline.bench.peak_rss import peak_rss_mb; print(peak_rss_mb())"


def test_a_worker_started_by_a_big_process_reports_its_own_peak() -> None:
    ballast = bytearray(400 * 1024 * 1024)
    for offset in range(0, len(ballast), 4096):  # touch every page: resident, not just reserved
        ballast[offset] = 1
    parent_peak = peak_rss_mb()
    completed = subprocess.run([sys.executable, "-c", PRINT_PEAK], capture_output=True, text=True, check=True)
    child_peak = float(completed.stdout)
    assert parent_peak > 400
    assert 0 < child_peak < 200, "the child reported the parent's high-water mark (ru_maxrss survives exec)"
