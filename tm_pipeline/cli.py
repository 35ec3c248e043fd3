"""`tm-pipeline`: the command line a scheduler, an analyst or a new user starts from."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from tm_pipeline import settings
from tm_pipeline.api.errors import (
    EXIT_API_REFUSED,
    EXIT_CONFIGURATION,
    EXIT_FAILED,
    EXIT_RETRY_LATER,
    ConfigurationError,
    PipelineError,
    exit_code_by_class_name,
)

EXIT_OK = 0
EXIT_USAGE = EXIT_CONFIGURATION  # configuration is missing or wrong (e.g. TRACKINGMORE_API_KEY unset)

# When steps fail for different reasons, the code that needs a person wins over "retry later":
# a scheduler that retried would only meet the same refusal or the same wrong address again.
_EXIT_PRECEDENCE = (EXIT_API_REFUSED, EXIT_CONFIGURATION, EXIT_FAILED, EXIT_RETRY_LATER)


def exit_code_for(error_class_names: list[str]) -> int:
    """The exit code for failed steps, from the class names Dagster kept of their exceptions."""
    by_class_name = exit_code_by_class_name()
    codes = {by_class_name.get(name, EXIT_FAILED) for name in error_class_names}
    return next((code for code in _EXIT_PRECEDENCE if code in codes), EXIT_OK)


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
    from tm_pipeline.runs import check_outcomes, step_failures, sync

    try:
        accounts = settings.accounts()
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    missing = settings.missing_key_variables(accounts)
    if missing:
        whose = "" if accounts[0].is_default and len(accounts) == 1 else " of the accounts in " + os.environ.get(
            settings.ACCOUNTS_FILE_VAR, ""
        )
        print(f"error: {', '.join(missing)} is not set{whose}; export the TrackingMore API key first.", file=sys.stderr)
        return EXIT_USAGE
    data_dir = Path(args.data_dir).resolve()
    results = sync(default_resources(data_dir), data_dir, args.mode)
    failed_checks = [c for result in results for c in check_outcomes(result) if not c["passed"]]
    for check in failed_checks:
        print(f"check failed ({check['severity']}): {check['asset']}:{check['check']}", file=sys.stderr)
    failures = [failure for result in results for failure in step_failures(result)]
    for step, _, message in failures:
        print(f"error in {step}: {message}", file=sys.stderr)
    if failures:
        return exit_code_for([cls_name for _, cls_name, _ in failures])
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
    results = run_benchmarks(sections, args.pages, args.throughput_trackings, sizes,
                             scheduled_trackings=args.scheduled_trackings, soak_runs=args.soak_runs)
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
    try:
        summary = build_report(
            database_path, Path(args.out).resolve() if args.out else data_dir / "report.html", args.account
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(summary.path)
    return EXIT_OK


def _query(args: argparse.Namespace) -> int:
    import duckdb

    database_path = Path(args.data_dir).resolve() / "warehouse.duckdb"
    if not database_path.exists():
        print(f"error: no warehouse at {database_path}; run `tm-pipeline demo` or `tm-pipeline sync` first.",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        with duckdb.connect(str(database_path), read_only=True) as connection:
            cursor = connection.execute(args.sql)
            description = cursor.description
            if not description:  # a statement without a result (None at run time, whatever the stubs say)
                return EXIT_OK
            columns = [column[0] for column in description]
            rows = cursor.fetchmany(args.max_rows + 1)  # never pulls a whole fact table into memory
    except duckdb.Error as error:
        print(f"error: {error}\n(query opens {database_path} read-only; `SHOW ALL TABLES` lists what is there)",
              file=sys.stderr)
        return EXIT_USAGE
    import pandas as pd

    print(pd.DataFrame(rows[: args.max_rows], columns=columns).to_string(index=False))
    if len(rows) > args.max_rows:
        print(f"(first {args.max_rows} rows shown; --max-rows shows more)")
    return EXIT_OK


def _ui(args: argparse.Namespace) -> int:
    from tm_pipeline.ui import run_ui

    return run_ui(
        Path(args.data_dir).resolve(), args.host, args.port,
        args.sandbox_trackings if args.sandbox else None, args.sandbox_port,
    )


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


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default, as ArgumentDefaultsHelpFormatter does, except where
    there is nothing to show (flags, options that are off unless given)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if "%(default)" in help_text or not action.option_strings or not shows_default(action):
            return help_text
        return f"{help_text} (default: %(default)s)"


def shows_default(action: argparse.Action) -> bool:
    """False for defaults that say nothing: unset (None), a flag that is off, an empty list."""
    default = action.default
    return not (default is None or default is False or default is argparse.SUPPRESS or default == [])


def _add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, details: str = ""
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name, help=summary, description=summary + (f"\n\n{details}" if details else ""),
        formatter_class=HelpFormatter,
    )


def _add_data_dir(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--data-dir", default=str(settings.data_dir()),
        help=f"{what}; ${settings.DATA_DIR_VAR} sets the default, else ./data",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tm-pipeline",
        formatter_class=HelpFormatter,
        description=(
            "TrackingMore shipment trackings -> Parquet lake -> DuckDB -> delivery-time and exception-rate\n"
            "metrics, with every API status code and data test judged by Dagster asset checks."
        ),
        epilog=f"""\
typical use:
  tm-pipeline demo                  try it: a local TrackingMore sandbox, no account needed
  tm-pipeline report                then open data/report.html
  tm-pipeline query "FROM delivery_time_by_carrier"     or ask the warehouse (read-only)
  tm-pipeline ui --sandbox          the Dagster UI against a local sandbox: schedule, backfills, checks
  export {settings.API_KEY_VAR}=... {settings.BASE_URL_VAR}={settings.PRODUCTION_BASE_URL}
  tm-pipeline sync                  a headless incremental sync (cron, CI, Airflow...)
  tm-pipeline ui                    or the Dagster UI: the 3-hourly schedule runs while it is up

data goes to ${settings.DATA_DIR_VAR} (default ./data); analysts open data/warehouse.duckdb read-only.
`dagster dev` by hand needs DAGSTER_HOME=<data_dir>/dagster_home (tm-pipeline ui sets it).
exit codes: 0 ok, 1 failed step or ERROR check, 2 configuration, 3 API refused (do not retry),
4 API unavailable (retry later). Docs: README.md and docs/.""",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _add_command(
        commands, "demo", "run everything end to end against an in-process sandbox",
        "Starts a TrackingMore v2 sandbox on a free port, materializes every asset and check against it,\n"
        "prints a metric table, the check results and where the warehouse is, then stops the sandbox.",
    )
    demo.add_argument("--trackings", type=int, default=20_000, help="how many trackings the sandbox holds")
    demo.add_argument("--seed", type=int, default=42, help="sandbox data seed (same seed, same data)")
    _add_data_dir(demo, "where the lake, DuckDB and the Dagster home land")
    demo.set_defaults(handler=_demo)

    sync = _add_command(
        commands, "sync", f"run the pipeline headless against {settings.BASE_URL_VAR} with {settings.API_KEY_VAR}",
        "Extract, load, build the models, run every check and publish, in this process. Exit codes:\n"
        "0 ok, 1 failed step or ERROR check, 2 configuration, 3 API refused, 4 retry later.",
    )
    _add_data_dir(sync, "where the lake, DuckDB and the Dagster home land")
    sync.add_argument(
        "--mode", choices=["incremental", "full"], default="incremental",
        help="incremental: only what changed since the last sync (the first sync is full); full: everything",
    )
    sync.set_defaults(handler=_sync)

    ui = _add_command(
        commands, "ui", "start the Dagster UI and daemon (dagster dev) with DAGSTER_HOME=<data-dir>/dagster_home",
        "The schedule, the automation sensor, backfills and checks, in a browser. The pool limits are\n"
        "written to <data-dir>/dagster_home/dagster.yaml first. With --sandbox, a local TrackingMore\n"
        "stand-in starts too and its URL and key are exported to the UI's runs. Ctrl-C stops everything.",
    )
    _add_data_dir(ui, "where runs land and where the Dagster home (run history, pool limits) lives")
    ui.add_argument("--host", default="127.0.0.1", help="address the UI listens on")
    ui.add_argument("--port", type=int, default=3000, help="port the UI listens on")
    ui.add_argument("--sandbox", action="store_true",
                    help=f"also start a sandbox and point the runs at it (instead of ${settings.BASE_URL_VAR})")
    ui.add_argument("--sandbox-trackings", type=int, default=20_000, help="trackings the --sandbox holds")
    ui.add_argument("--sandbox-port", type=int, default=0, help="port of the --sandbox (0: any free port)")
    ui.set_defaults(handler=_ui)

    query = _add_command(
        commands, "query", "run one SQL statement on the published warehouse, read-only, and print the rows",
        'e.g. tm-pipeline query "FROM delivery_time_by_carrier"  or  tm-pipeline query "SHOW ALL TABLES"',
    )
    query.add_argument("sql", help="the SQL to run (DuckDB dialect); writes are refused")
    _add_data_dir(query, "where warehouse.duckdb is")
    query.add_argument("--max-rows", type=int, default=100, help="print at most this many rows")
    query.set_defaults(handler=_query)

    report = _add_command(
        commands, "report", "write the metrics as one self-contained HTML dashboard (offline)",
        "Reads <data-dir>/warehouse.duckdb (run demo or sync first) and prints the file it wrote.",
    )
    _add_data_dir(report, "where warehouse.duckdb is")
    report.add_argument("--out", help="HTML file to write (default: <data-dir>/report.html)")
    report.add_argument("--account", help="the account to report on (required when the warehouse holds several)")
    report.set_defaults(handler=_report)

    bench = _add_command(
        commands, "bench", "measure pacing, a strict-server soak, throughput, CPU/page, memory, models, schedules",
        "Each section starts its own sandbox process and prints its figures as JSON (README has the latest).",
    )
    bench.add_argument("--only", help=f"comma-separated sections, any of: {','.join(_bench_sections())} "
                                      "(default: all)")
    bench.add_argument("--pages", type=int, default=30,
                       help="pages for the pacing benchmark, and per account for the accounts one (1 s each)")
    bench.add_argument("--soak-runs", type=int, default=100,
                       help="short paced runs against the strict sandbox in the soak (~2.5 s each)")
    bench.add_argument("--throughput-trackings", type=int, default=200_000,
                       help="trackings the unthrottled throughput benchmark extracts and loads")
    bench.add_argument("--memory-sizes", default="100000,1000000", help="trackings per peak-RSS run")
    bench.add_argument("--scheduled-trackings", type=int, default=20_000,
                       help="trackings synced at 1 request/s by the CLI and by a schedule tick, for comparison")
    bench.add_argument("--out", help="also write the results as JSON to this file")
    bench.set_defaults(handler=_bench)

    lake = _add_command(
        commands, "lake", "verify the lake against its manifests, or accept a loss for good",
        "verify lists files that are missing, damaged or in no manifest (exit 1 if any); accept-loss records\n"
        "in a file's manifest that it cannot be restored, so it stops blocking runs (docs/operations.md).",
    )
    _add_data_dir(lake, "where the lake is (<data-dir>/lake)")
    lake_commands = lake.add_subparsers(dest="lake_command", required=True)
    lake_commands.add_parser("verify", help="list files that are missing, damaged or in no manifest (exit 1 if any)")
    accept = lake_commands.add_parser(
        "accept-loss", help="record in its manifest that a file cannot be restored, so it stops blocking runs"
    )
    accept.add_argument("files", nargs="+", help="lake files as the integrity check names them")
    accept.add_argument("--reason", required=True, help="why, e.g. 'disk failure 2026-01-03, no backup'")
    lake.set_defaults(handler=_lake)

    from tm_pipeline.sandbox.cli import add_arguments

    sandbox = _add_command(
        commands, "sandbox", "serve the TrackingMore v2 stand-in on 127.0.0.1",
        "Prints its base URL and key; point TRACKINGMORE_BASE_URL at it. Ctrl-C stops it.",
    )
    add_arguments(sandbox)
    sandbox.set_defaults(handler=_sandbox)
    return parser


def _bench_sections() -> tuple[str, ...]:
    from tm_pipeline.bench.run import SECTIONS

    return SECTIONS


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tm_pipeline").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except PipelineError as error:  # raised outside a Dagster step, e.g. while reading the environment
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
