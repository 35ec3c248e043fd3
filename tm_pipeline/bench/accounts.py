"""Several accounts extracting at once: each must reach its own 1 request/second, none a 429.

Four accounts (four keys, each its own account in one strict sandbox process) are synced by
`tm-pipeline sync --mode full` in its own process, exactly as cron would run it: the extractions
run in Dagster's multiprocess executor, one process per account. Each account's rate is read
from its own ledger (when each request was sent); the 429s are counted by the server, per key.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from tm_pipeline.bench.sandbox_process import sandbox_process, sandbox_stats
from tm_pipeline.extract.run import MAX_PAGE_LIMIT
from tm_pipeline.sandbox.ratelimit import key_fingerprint

ACCOUNTS = ("brand_a", "brand_b", "brand_c", "brand_d")


def _key(account: str) -> str:
    return f"bench-{account}-key"


def _request_times(lake: Path) -> list[float]:
    calls = ds.dataset(str(lake / "api_calls"), format="parquet").to_table(columns=["requested_at"])
    return sorted(value.timestamp() for value in calls["requested_at"].to_pylist())


def bench_accounts(pages: int, log: Callable[[str], None], accounts: tuple[str, ...] = ACCOUNTS) -> dict[str, Any]:
    """`pages` full pages per account, all accounts at 1 request/s each, in one sync."""
    strict = ("--strict", "--close-connection-rate", "0", "--separate-accounts",
              *[arg for account in accounts for arg in ("--api-key", _key(account))])
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(pages * MAX_PAGE_LIMIT, 1.0, extra_args=strict) as url:
        root = Path(tmp)
        accounts_file = root / "accounts.toml"
        accounts_file.write_text("".join(
            f'[accounts.{account}]\nkey_var = "TM_BENCH_KEY_{account.upper()}"\nbase_url = "{url}"\n'
            for account in accounts
        ))
        env = {**os.environ, "TM_ACCOUNTS_FILE": str(accounts_file), "TM_DATA_DIR": str(root / "data"),
               **{f"TM_BENCH_KEY_{account.upper()}": _key(account) for account in accounts}}
        log(f"accounts: {len(accounts)} accounts x {pages} pages at 1 request/s each, in parallel (~{pages} s)")
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "tm_pipeline.cli", "sync", "--mode", "full", "--data-dir", str(root / "data")],
            env=env, capture_output=True, text=True, check=False,
        )
        sync_s = time.perf_counter() - started
        if completed.returncode != 0:
            raise RuntimeError(f"the sync of {len(accounts)} accounts failed:\n{completed.stderr[-3000:]}")
        stats = sandbox_stats(url)
        times = {account: _request_times(root / "data" / "lake" / f"account={account}") for account in accounts}
    refused = stats["list_429_per_key"]
    gaps = stats["min_list_gap_s_per_key"]
    per_account = {}
    for account, starts in times.items():
        achieved = (len(starts) - 1) / (starts[-1] - starts[0])
        steady = (len(starts) - 2) / (starts[-1] - starts[1])  # from the 2nd: the 1st opened the connection
        gaps_s = [later - earlier for earlier, later in zip(starts[1:-1], starts[2:], strict=True)]
        per_account[account] = {
            "requests": len(starts),
            "efficiency": achieved / 1.0,
            "steady_state_efficiency": steady / 1.0,
            # Where the time went: the typical spacing, and the longest (a late wake-up on a busy machine).
            "median_gap_s": statistics.median(gaps_s),
            "max_gap_s": max(gaps_s),
            "served_429": refused.get(key_fingerprint(_key(account)), 0),
            "min_arrival_gap_s_seen_by_sandbox": gaps.get(key_fingerprint(_key(account))),
        }
    # Parallel means every account was extracting at once: the latest first request came before
    # the earliest last request.
    overlap_s = min(starts[-1] for starts in times.values()) - max(starts[0] for starts in times.values())
    return {
        "accounts": len(accounts),
        "pages_per_account": pages,
        "per_account": per_account,
        "min_efficiency": min(a["efficiency"] for a in per_account.values()),
        "min_steady_state_efficiency": min(a["steady_state_efficiency"] for a in per_account.values()),
        "served_429_total": stats["served_429"],
        "all_extracting_at_once_s": overlap_s,
        "sync_s": sync_s,
    }
