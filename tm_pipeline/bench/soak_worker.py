"""Many short paced runs back to back against one API key, reporting every request's send as JSON.

Run as `python -m tm_pipeline.bench.soak_worker BASE_URL KEY DATA_DIR --runs N --deadline-s S`. Each
run is what a new process would do: a new client (so a new connection, with its handshake) and a
new pacer that knows the key's budget only from the state file. Runs alternate between a full
extraction of a small account (a few pages, with prefetch) and an idle incremental run (two
requests), the case issue 9 saw fail.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from tm_pipeline.api.errors import ApiError, TransientApiError
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.run import extract_window, sync_state
from tm_pipeline.extract.windows import full_window, incremental_windows
from tm_pipeline.landing.lake import Lake
from tm_pipeline.resources import TrackingMoreResource


def soak(base_url: str, api_key: str, data_dir: Path, runs: int, deadline_s: float, page_limit: int) -> dict[str, Any]:
    lake = Lake(data_dir / "lake")
    sends: list[dict[str, Any]] = []  # one per attempt that left: run, sent_at, new_connection
    full_run_rows: list[int] = []
    failed_runs: list[str] = []
    started = time.monotonic()
    runs_done = 0
    for run in range(runs):
        if time.monotonic() - started > deadline_s:
            break
        account = TrackingMoreResource(
            base_url=base_url, api_key=api_key, page_limit=page_limit, state_dir=str(data_dir / "state")
        )
        pacer = account.pacer()
        report_to_pacer = pacer.note_request

        def note_request(sent_at: float | None, new_connection: bool, answered_at: float | None,
                         run: int = run, report_to_pacer: Any = report_to_pacer) -> None:
            if sent_at is not None:
                sends.append({"run": run, "sent_at": sent_at, "new_connection": new_connection})
            report_to_pacer(sent_at, new_connection, answered_at)

        pacer.note_request = note_request  # type: ignore[method-assign]  # wrapped to record every send
        client = account.client()
        # A 429 ends the run (the strict server's penalty is two minutes): it is counted, not retried.
        fetcher = PageFetcher(client, pacer, RetryPolicy(max_429_pauses=0))
        full = run % 2 == 0
        windows = [full_window()] if full else incremental_windows(sync_state(lake.manifests()), overlap_s=0)
        try:
            summaries = [extract_window(fetcher, lake, window, page_limit) for window in windows]
            if full:
                full_run_rows.append(summaries[0].rows)
        except (ApiError, TransientApiError) as failure:
            failed_runs.append(f"run {run}: {failure}")
        finally:
            client.close()
        runs_done += 1
    return {"runs": runs_done, "sends": sends, "full_run_rows": full_run_rows, "failed_runs": failed_runs,
            "elapsed_s": time.monotonic() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("api_key")
    parser.add_argument("data_dir")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--deadline-s", type=float, default=540.0, help="start no run after this long")
    parser.add_argument("--page-limit", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(soak(args.base_url, args.api_key, Path(args.data_dir), args.runs, args.deadline_s,
                          args.page_limit)))


if __name__ == "__main__":
    main()
