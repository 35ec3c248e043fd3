"""`tm-pipeline`: the command line a scheduler, an analyst or a new user starts from."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tm_pipeline import settings

EXIT_OK = 0
EXIT_FAILED = 1  # a step or a data-quality check failed: read the messages, fix, rerun
EXIT_USAGE = 2  # configuration is missing or wrong (e.g. TRACKINGMORE_API_KEY unset)
EXIT_API_REFUSED = 3  # the API refused the key, the balance or the request: retrying will not help
EXIT_RETRY_LATER = 4  # the API stayed unavailable or rate-limited past the retry budget: rerun later

_EXIT_BY_ERROR = {
    "StopRunError": EXIT_API_REFUSED,
    "TransientApiError": EXIT_RETRY_LATER,
    "RateLimitedError": EXIT_RETRY_LATER,
}


def _demo(args: argparse.Namespace) -> int:
    from tm_pipeline.demo import print_report, run_demo

    data_dir = Path(args.data_dir).resolve()
    print(f"Starting the sandbox with {args.trackings:,} trackings and running every asset; "
          f"data goes to {data_dir}")
    outcome = run_demo(data_dir, trackings=args.trackings, seed=args.seed)
    print_report(outcome)
    return EXIT_OK if outcome.success else EXIT_FAILED


def _sync(args: argparse.Namespace) -> int:
    import os

    from tm_pipeline.definitions import default_resources
    from tm_pipeline.runs import check_outcomes, materialize_all, step_failures

    if not os.environ.get(settings.API_KEY_VAR):
        print(f"error: {settings.API_KEY_VAR} is not set; export your TrackingMore API key first.", file=sys.stderr)
        return EXIT_USAGE
    data_dir = Path(args.data_dir).resolve()
    result = materialize_all(
        default_resources(data_dir), data_dir, run_config_ops={"trackingmore_extract": {"mode": args.mode}}
    )
    failed_checks = [c for c in check_outcomes(result) if not c["passed"]]
    for check in failed_checks:
        print(f"check failed ({check['severity']}): {check['asset']}:{check['check']}", file=sys.stderr)
    failures = step_failures(result)
    for step, _, message in failures:
        print(f"error in {step}: {message}", file=sys.stderr)
    if failures:
        return max(_EXIT_BY_ERROR.get(cls_name, EXIT_FAILED) for _, cls_name, _ in failures)
    blocking = [c for c in failed_checks if c["severity"] == "ERROR"]
    print(f"sync finished; data in {data_dir}" + (f", {len(blocking)} ERROR checks failed" if blocking else ""))
    return EXIT_FAILED if blocking else EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    import json

    from tm_pipeline.bench.run import SECTIONS, run_benchmarks

    sections = tuple(args.only.split(",")) if args.only else SECTIONS
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"error: unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}",
              file=sys.stderr)
        return EXIT_USAGE
    sizes = tuple(int(size) for size in args.memory_sizes.split(","))
    results = run_benchmarks(sections, args.pages, args.throughput_trackings, sizes)
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.out}")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from tm_pipeline.report import build_report

    data_dir = Path(args.data_dir).resolve()
    database_path = data_dir / "warehouse.duckdb"
    if not database_path.exists():
        print(f"error: no warehouse at {database_path}; run `tm-pipeline demo` or `tm-pipeline sync` first.",
              file=sys.stderr)
        return EXIT_USAGE
    summary = build_report(database_path, Path(args.out).resolve() if args.out else data_dir / "report.html")
    print(summary.path)
    return EXIT_OK


def _lake(args: argparse.Namespace) -> int:
    from tm_pipeline.landing.integrity import audit_lake
    from tm_pipeline.landing.lake import Lake
    from tm_pipeline.landing.losses import accept_loss

    lake = Lake(Path(args.data_dir).resolve() / "lake")
    if not lake.root.is_dir():
        print(f"error: no lake at {lake.root}; pass --data-dir (or set {settings.DATA_DIR_VAR}).", file=sys.stderr)
        return EXIT_USAGE
    if args.lake_command == "accept-loss":
        try:
            for file in args.files:
                print(accept_loss(lake, file, args.reason))
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    audit = audit_lake(lake)
    for problem in audit.problems:
        print(f"{lake.root / problem.file}: {problem.kind} ({problem.detail})")
    for stray in audit.strays:
        print(f"{lake.root / stray}: stray (in no manifest, not loaded)")
    print(f"{len(audit.trackings_files)} pages and {len(audit.api_calls_files)} ledger parts verified, "
          f"{len(audit.problems)} problems, {len(audit.strays)} strays")
    return EXIT_FAILED if audit.problems else EXIT_OK


def _sandbox(args: argparse.Namespace) -> int:
    from tm_pipeline.sandbox.cli import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tm-pipeline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "TrackingMore shipment trackings -> Parquet lake -> DuckDB -> delivery-time and exception-rate\n"
            "metrics, with every API status code and data test judged by Dagster asset checks."
        ),
        epilog=f"""\
typical use:
  tm-pipeline demo                  try it: a local TrackingMore sandbox, no account needed
  tm-pipeline report                then open data/report.html
  export {settings.API_KEY_VAR}=... {settings.BASE_URL_VAR}={settings.PRODUCTION_BASE_URL}
  tm-pipeline sync                  a headless incremental sync (cron, CI, Airflow...)
  dagster dev -w workspace.yaml     or the Dagster UI: schedule every 3 h, backfills, checks

data goes to ${settings.DATA_DIR_VAR} (default ./data); analysts open data/warehouse.duckdb read-only.
exit codes: 0 ok, 1 failed step or ERROR check, 2 configuration, 3 API refused (do not retry),
4 API unavailable (retry later). Docs: README.md and docs/.""",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run everything end to end against an in-process sandbox")
    demo.add_argument("--trackings", type=int, default=20_000, help="how many trackings the sandbox holds")
    demo.add_argument("--seed", type=int, default=42, help="sandbox data seed (same seed, same data)")
    demo.add_argument("--data-dir", default=str(settings.data_dir()), help="where Parquet and DuckDB land")
    demo.set_defaults(handler=_demo)

    sync = commands.add_parser(
        "sync", help=f"run the pipeline headless against {settings.BASE_URL_VAR} with {settings.API_KEY_VAR}"
    )
    sync.add_argument("--data-dir", default=str(settings.data_dir()), help="where Parquet and DuckDB land")
    sync.add_argument(
        "--mode", choices=["incremental", "full"], default="incremental",
        help="incremental: only what changed since the last sync (the first sync is full)",
    )
    sync.set_defaults(handler=_sync)

    bench = commands.add_parser("bench", help="measure pacing, throughput, CPU per page, memory and model builds")
    bench.add_argument("--only", help="comma-separated sections: pacing,throughput,memory,models (default: all)")
    bench.add_argument("--pages", type=int, default=30, help="pages for the pacing benchmark (1 s each)")
    bench.add_argument("--throughput-trackings", type=int, default=200_000)
    bench.add_argument("--memory-sizes", default="100000,1000000", help="trackings per peak-RSS run")
    bench.add_argument("--out", help="also write the results as JSON to this file")
    bench.set_defaults(handler=_bench)

    report = commands.add_parser("report", help="write the metrics as one self-contained HTML dashboard (offline)")
    report.add_argument("--data-dir", default=str(settings.data_dir()), help="where warehouse.duckdb is")
    report.add_argument("--out", help="HTML file to write (default: <data-dir>/report.html)")
    report.set_defaults(handler=_report)

    lake = commands.add_parser("lake", help="verify the lake against its manifests, or accept a loss for good")
    lake.add_argument("--data-dir", default=str(settings.data_dir()), help="where the lake is")
    lake_commands = lake.add_subparsers(dest="lake_command", required=True)
    lake_commands.add_parser("verify", help="list files that are missing, damaged or in no manifest (exit 1 if any)")
    accept = lake_commands.add_parser(
        "accept-loss", help="record in its manifest that a file cannot be restored, so it stops blocking runs"
    )
    accept.add_argument("files", nargs="+", help="lake files as the integrity check names them")
    accept.add_argument("--reason", required=True, help="why, e.g. 'disk failure 2026-01-03, no backup'")
    lake.set_defaults(handler=_lake)

    from tm_pipeline.sandbox.cli import add_arguments

    sandbox = commands.add_parser("sandbox", help="serve the TrackingMore v2 stand-in on 127.0.0.1")
    add_arguments(sandbox)
    sandbox.set_defaults(handler=_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tm_pipeline").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
