"""One extraction (and optionally the DuckDB load) in a fresh process, reporting its own cost as JSON.

Run as `python -m tm_pipeline.bench.extract_worker BASE_URL KEY DATA_DIR [--load] [--rate R]`; a
fresh process makes peak RSS mean "this run" and not whatever the parent held before.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tm_pipeline.api.client import TrackingMoreClient
from tm_pipeline.api.endpoints import endpoint_for, version_of
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.bench.peak_rss import peak_rss_mb
from tm_pipeline.extract.fetch import PageFetcher
from tm_pipeline.extract.run import extract_window
from tm_pipeline.extract.windows import full_window
from tm_pipeline.landing.lake import Lake


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("api_key")
    parser.add_argument("data_dir")
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second; 0 = unthrottled")
    parser.add_argument("--load", action="store_true", help="also load the lake into DuckDB")
    parser.add_argument("--api-version", default="", help="v2 or v4; default: from the base URL")
    args = parser.parse_args()

    lake = Lake(Path(args.data_dir) / "lake")
    endpoint = endpoint_for(version_of(args.base_url, args.api_version))
    client = TrackingMoreClient(args.base_url, args.api_key, auth_header=endpoint.auth_header)
    fetcher = PageFetcher(client, Pacer(args.rate or None), endpoint=endpoint)
    cpu_at_page: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = extract_window(fetcher, lake, full_window(), progress=lambda _: cpu_at_page.append(time.process_time()))
    extract_s, extract_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    # Steady state: from the first committed page on, so one-time costs (lazy imports inside pyarrow,
    # thread start, first connection) are reported apart instead of spread over the pages.
    steady_pages = len(cpu_at_page) - 1
    report = {
        "rows": summary.rows,
        "pages": summary.pages,
        "calls": summary.calls,
        "codes": summary.codes,
        "extract_s": extract_s,
        "extract_cpu_ms_per_page": extract_cpu_s / max(summary.pages, 1) * 1000,
        "steady_cpu_ms_per_page": (cpu_at_page[-1] - cpu_at_page[0]) / steady_pages * 1000 if steady_pages else None,
        "first_page_cpu_ms": (cpu_at_page[0] - cpu_started) * 1000 if cpu_at_page else None,
        "extract_peak_rss_mb": peak_rss_mb(),
    }
    if args.load:
        from tm_pipeline.load.raw_tables import load_raw_tables

        load_started = time.perf_counter()
        from tm_pipeline.resources import WarehouseResource

        warehouse = WarehouseResource(database_path=str(Path(args.data_dir) / "warehouse.duckdb"))
        with warehouse.connect() as connection:
            loaded = load_raw_tables(connection, lake)
        report.update(
            load_s=time.perf_counter() - load_started,
            loaded_trackings=loaded.trackings,
            loaded_checkpoints=loaded.checkpoints,
            peak_rss_mb_with_load=peak_rss_mb(),
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
