"""`tm-pipeline`: the command line a scheduler, an analyst or a new user starts from."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    run_config_ops: dict[str, Any] = {}
    if args.full_load:
        run_config_ops["warehouse_raw_tables"] = {"full_load": True}
    if args.full_refresh:
        from tm_pipeline.definitions import MODEL_ASSETS
        from tm_pipeline.models.assets import full_refresh_run_config

        run_config_ops.update(full_refresh_run_config(MODEL_ASSETS))
    results = sync(default_resources(data_dir), data_dir, args.mode, run_config_ops)
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

    from tm_pipeline.bench.run import DEFAULT_SECTIONS, SECTIONS, run_benchmarks

    sections = tuple(args.only.split(",")) if args.only else DEFAULT_SECTIONS
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"error: unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}",
              file=sys.stderr)
        return EXIT_USAGE
    sizes = tuple(int(size) for size in args.memory_sizes.split(","))
    points = tuple(int(point) for point in args.incremental_points.split(","))
    results = run_benchmarks(sections, args.pages, args.throughput_trackings, sizes,
                             scheduled_trackings=args.scheduled_trackings, soak_runs=args.soak_runs,
                             incremental_trackings=args.incremental_trackings, incremental_points=points,
                             memory_limit=settings.duckdb_memory_limit())
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
    """Verify, compact or accept losses in every account's lake (the default account's `lake/`, a
    named account's `lake/account=<name>/`); files are named relative to the top lake, as the
    load's checks name them."""
    from tm_pipeline.landing.compaction import compact_lake
    from tm_pipeline.landing.integrity import audit_lake
    from tm_pipeline.landing.lake import Lake, open_lake
    from tm_pipeline.landing.losses import accept_loss

    top_uri = settings.lake_uri(Path(args.data_dir).resolve())
    try:
        accounts = settings.accounts()
        prefixes = [account.lake_prefix for account in accounts]
        if not any(account.is_default for account in accounts):
            prefixes.insert(0, "")  # pushes land in the default account's lake whatever the accounts
        lakes: dict[str, Lake] = {
            prefix: open_lake(f"{top_uri.rstrip('/')}/{prefix}" if prefix else top_uri, settings.s3_endpoint_url())
            for prefix in prefixes
        }
    except ValueError as error:  # ConfigurationError included
        print(f"error: {error} ({settings.LAKE_URI_VAR}, {settings.S3_ENDPOINT_VAR}, {settings.ACCOUNTS_FILE_VAR})",
              file=sys.stderr)
        return EXIT_USAGE
    top = lakes.get("") or open_lake(top_uri, settings.s3_endpoint_url())
    if top.is_local and not top.root.is_dir():
        print(f"error: no lake at {top.root}; pass --data-dir (or set {settings.DATA_DIR_VAR}).", file=sys.stderr)
        return EXIT_USAGE
    present = {prefix: lake for prefix, lake in lakes.items() if not lake.is_local or lake.root.is_dir()}
    if args.lake_command == "compact":
        for lake in present.values():
            summary = compact_lake(lake, min_extractions=args.min_extractions)
            print(f"{lake.location}: {summary.extractions_compacted} extractions ({summary.rows} rows, "
                  f"{summary.files_read} files) compacted into {summary.parts_written} parts; {summary.files_deleted} "
                  f"files of earlier compactions deleted; {len(summary.skipped)} extractions left as they are")
        return EXIT_OK
    if args.lake_command == "accept-loss":
        try:
            for file in args.files:
                prefix, _, relative = file.partition("/") if file.startswith("account=") else ("", "", file)
                if prefix not in present:
                    raise ValueError(f"{file}: no configured account's lake is {prefix} ({settings.ACCOUNTS_FILE_VAR})")
                print(accept_loss(present[prefix], relative, args.reason))
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    problems = strays = pages = ledger_parts = 0
    for lake in present.values():
        audit = audit_lake(lake)
        for problem in audit.problems:
            print(f"{lake.location}/{problem.file}: {problem.kind} ({problem.detail})")
        for stray in audit.strays:
            print(f"{lake.location}/{stray}: stray (in no manifest, not loaded)")
        problems, strays = problems + len(audit.problems), strays + len(audit.strays)
        pages, ledger_parts = pages + len(audit.trackings_files), ledger_parts + len(audit.api_calls_files)
    print(f"{pages} pages and {ledger_parts} ledger parts verified, {problems} problems, {strays} strays")
    return EXIT_FAILED if problems else EXIT_OK


def _webhook(args: argparse.Namespace) -> int:
    from tm_pipeline.webhooks.config import ReceiverConfigError, config_from_environment
    from tm_pipeline.webhooks.serve import serve_forever

    try:
        config = config_from_environment(
            args.max_body_bytes, args.timestamp_window_s, args.client_rate_per_s, args.client_burst
        )
    except ReceiverConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    lake_uri = settings.lake_uri(Path(args.data_dir).resolve())
    if lake_uri.startswith("s3://"):
        print(f"error: the receiver's push log must be fsynced on a local disk, but the lake is at {lake_uri} "
              f"(TM_LAKE_URI); run the receiver with a local lake", file=sys.stderr)
        return EXIT_USAGE
    try:
        serve_forever(config, Path(args.data_dir).resolve() / "lake", args.host, args.port, args.forwarded_allow_ips)
    except (OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


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
    sync.add_argument(
        "--full-refresh", action="store_true",
        help="rebuild every model whole instead of merging the trackings the load changed (as dbt's --full-refresh)",
    )
    sync.add_argument(
        "--full-load", action="store_true",
        help="rebuild the warehouse's raw tables from the whole lake, re-hashing every file, instead of "
             "merging only the files not loaded yet",
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
        commands, "bench", "measure pacing, a strict-server soak, throughput, CPU/page, memory, models, schedules, "
        "webhooks, compaction, incremental runs",
        "Each section starts its own sandbox process and prints its figures as JSON (README has the latest).",
    )
    bench.add_argument("--only", help=f"comma-separated sections, any of: {','.join(_bench_sections())} "
                                      "(default: all but incremental_10m, which takes long)")
    bench.add_argument("--pages", type=int, default=30,
                       help="pages for the pacing benchmark, and per account for the accounts one (1 s each)")
    bench.add_argument("--soak-runs", type=int, default=100,
                       help="short paced runs against the strict sandbox in the soak (~2.5 s each)")
    bench.add_argument("--throughput-trackings", type=int, default=200_000,
                       help="trackings the unthrottled throughput benchmark extracts and loads")
    bench.add_argument("--memory-sizes", default="100000,1000000", help="trackings per peak-RSS run")
    bench.add_argument("--scheduled-trackings", type=int, default=20_000,
                       help="trackings synced at 1 request/s by the CLI and by a schedule tick, for comparison")
    bench.add_argument("--incremental-trackings", type=int, default=1_000_000,
                       help="trackings of the account in the incremental section")
    bench.add_argument("--incremental-points", default="10,100,1000,3000",
                       help="numbers of extractions in the lake at which the incremental section measures a run")
    bench.add_argument("--out", help="also write the results as JSON to this file")
    bench.set_defaults(handler=_bench)

    lake = _add_command(
        commands, "lake", "verify the lake against its manifests, or accept a loss for good",
        "verify lists files that are missing, damaged or in no manifest (exit 1 if any); accept-loss records\n"
        "in a file's manifest that it cannot be restored, so it stops blocking runs (docs/operations.md);\n"
        "compact rewrites complete extractions into few parts per window. The lake is <data-dir>/lake, or\n"
        f"{settings.LAKE_URI_VAR} (s3://bucket/prefix).",
    )
    _add_data_dir(lake, "where the lake is (<data-dir>/lake)")
    lake_commands = lake.add_subparsers(dest="lake_command", required=True)
    lake_commands.add_parser("verify", help="list files that are missing, damaged or in no manifest (exit 1 if any)")
    accept = lake_commands.add_parser(
        "accept-loss", help="record in its manifest that a file cannot be restored, so it stops blocking runs"
    )
    accept.add_argument("files", nargs="+", help="lake files as the integrity check names them")
    accept.add_argument("--reason", required=True, help="why, e.g. 'disk failure 2026-01-03, no backup'")
    compact = lake_commands.add_parser(
        "compact", help="rewrite complete extractions into few parts per window now (the daily schedule does it too)"
    )
    compact.add_argument("--min-extractions", type=int, default=2,
                         help="compact a window only when it has at least this many complete extractions")
    lake.set_defaults(handler=_lake)

    _add_webhook_command(commands)

    from tm_pipeline.sandbox.cli import add_arguments

    sandbox = _add_command(
        commands, "sandbox", "serve the TrackingMore v2 stand-in on 127.0.0.1",
        "Prints its base URL and key; point TRACKINGMORE_BASE_URL at it. Ctrl-C stops it.",
    )
    add_arguments(sandbox)
    sandbox.set_defaults(handler=_sandbox)
    return parser


def _add_webhook_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from tm_pipeline.webhooks import config

    webhook = _add_command(
        commands, "webhook", "receive TrackingMore webhook pushes (v2 and v4) and land them in the lake",
        f"Listens on POST /webhooks/${config.PATH_TOKEN_VAR} and answers 200 only once a push is fsynced\n"
        f"to <data-dir>/lake/pushes/; the Dagster sensor pushes_waiting loads them into the warehouse.\n"
        f"${config.PATH_TOKEN_VAR} (required, >= {config.MIN_TOKEN_CHARS} characters) keeps strangers out; with\n"
        f"${config.SECRET_VAR} set (v2: the account's login e-mail; v4: the webhook secret) unsigned,\n"
        "badly signed or stale pushes are refused. Put it behind a TLS proxy (docs/operations.md).",
    )
    _add_data_dir(webhook, "where the lake is (pushes land in <data-dir>/lake/pushes)")
    webhook.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    webhook.add_argument("--port", type=int, default=8780, help="port to listen on (0: any free port)")
    webhook.add_argument("--max-body-bytes", type=int, default=config.DEFAULT_MAX_BODY_BYTES,
                         help="larger pushes are refused with 413")
    webhook.add_argument("--timestamp-window-s", type=float, default=config.DEFAULT_TIMESTAMP_WINDOW_S,
                         help="signed timestamps further from now are refused as replays (401)")
    webhook.add_argument("--client-rate-per-s", type=float, default=config.DEFAULT_CLIENT_RATE_PER_S,
                         help="pushes per second per client address, beyond the burst (429)")
    webhook.add_argument("--client-burst", type=float, default=config.DEFAULT_CLIENT_BURST,
                         help="pushes a client may send at once before the rate applies")
    webhook.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                         help="proxies whose X-Forwarded-For names the client (for the per-client rate)")
    webhook.set_defaults(handler=_webhook)


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
