"""Pacing of v4's list endpoint: achieved rate ÷ the allowed 10 requests/s against a strict sandbox
(no arrival tolerance, a handshake before a new connection's first request, 120 s of 429 after a
429), so one early arrival would show as a 429 and stall the run."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from tm_pipeline.api.endpoints.v4 import V4_LIST
from tm_pipeline.bench.sandbox_process import sandbox_process, sandbox_stats

V4_RATE_PER_S = V4_LIST.default_rate_per_s


def bench_v4_pacing(pages: int, log: Callable[[str], None]) -> dict[str, Any]:
    """`pages` full v4 pages (and the empty one that proves the end) at 10 requests/s."""
    from tm_pipeline.bench.run import _worker

    strict = ("--strict", "--close-connection-rate", "0", "--v4-list-rate", str(V4_RATE_PER_S))
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(
        pages * V4_LIST.default_page_limit, 1.0, extra_args=strict
    ) as base_url:
        log(f"v4 pacing: {pages} pages at {V4_RATE_PER_S:g} requests/s against a strict sandbox (~{pages / 10:.0f} s)")
        report = _worker(base_url.removesuffix("/v2") + "/v4", Path(tmp), rate=V4_RATE_PER_S)
        stats = sandbox_stats(base_url)
        calls = ds.dataset(str(Path(tmp) / "lake" / "api_calls"), format="parquet").to_table(
            columns=["requested_at"]
        )
    starts = sorted(value.timestamp() for value in calls["requested_at"].to_pylist())
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    steady = (len(starts) - 2) / (starts[-1] - starts[1])  # after the first connection's one-off wait
    return {
        "requests": len(starts),
        "rows": report["rows"],
        "allowed_rate_per_s": V4_RATE_PER_S,
        "achieved_rate_per_s": achieved,
        "pacing_efficiency": achieved / V4_RATE_PER_S,
        "steady_state_efficiency": steady / V4_RATE_PER_S,
        "served_429": stats["served_429"],
        "min_arrival_gap_s_seen_by_sandbox": min(stats["min_v4_list_gap_s_per_key"].values()),
    }
