"""`tm-pipeline`: the command line a scheduler, an analyst or a new user starts from."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tm_pipeline import settings

EXIT_OK = 0
EXIT_FAILED = 1  # the run failed or a blocking check failed: look at the output, then rerun
EXIT_USAGE = 2


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
    from tm_pipeline.runs import check_outcomes, materialize_all

    if not os.environ.get(settings.API_KEY_VAR):
        print(f"error: {settings.API_KEY_VAR} is not set; export your TrackingMore API key first.", file=sys.stderr)
        return EXIT_USAGE
    data_dir = Path(args.data_dir).resolve()
    result = materialize_all(default_resources(data_dir), data_dir)
    failed = [c for c in check_outcomes(result) if not c["passed"]]
    for check in failed:
        print(f"check failed ({check['severity']}): {check['asset']}:{check['check']}", file=sys.stderr)
    return EXIT_OK if result.success and not failed else EXIT_FAILED


def _sandbox(args: argparse.Namespace) -> int:
    from tm_pipeline.sandbox.cli import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tm-pipeline",
        description=(
            "TrackingMore shipment trackings -> Parquet -> DuckDB -> delivery-time and exception-rate metrics. "
            "Start with `tm-pipeline demo` (no account needed: it runs a local TrackingMore sandbox)."
        ),
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
    sync.set_defaults(handler=_sync)

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
