"""`tm-pipeline sandbox`: run the stand-in API in the foreground, or dump its ground truth."""

from __future__ import annotations

import argparse
import dataclasses
import threading
from pathlib import Path

import orjson

from .config import SandboxConfig
from .faults import FaultConfig
from .server import SandboxServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the `sandbox` sub-command."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port)")
    parser.add_argument("--trackings", type=int, default=20000, help="number of trackings to generate")
    parser.add_argument("--seed", type=int, default=42, help="data seed (same seed, same trackings)")
    parser.add_argument(
        "--api-key", action="append", dest="api_keys", help="valid API key (repeatable; default sandbox-key)"
    )
    parser.add_argument(
        "--separate-accounts", action="store_true",
        help="each --api-key is its own account: its own trackings (seed + its position) and ground truth",
    )
    parser.add_argument(
        "--list-rate",
        type=float,
        default=1.0,
        help="accepted list requests per second per key (0 = unthrottled)",
    )
    parser.add_argument(
        "--v4-list-rate",
        type=float,
        default=10.0,
        help="accepted v4 list requests per second per key (0 = unthrottled)",
    )
    parser.add_argument(
        "--rate-penalty",
        type=float,
        metavar="SECONDS",
        help="keep refusing a key this long after a 429 (default 0; 120 with --strict)",
    )
    strict = parser.add_argument_group("strict server (each flag overrides what --strict sets)")
    strict.add_argument(
        "--strict",
        action="store_true",
        help="no arrival tolerance, 0.15 s handshake per new connection, 10%% of replies close their "
        "connection, 120 s penalty after a 429",
    )
    strict.add_argument(
        "--rate-tolerance", type=float, metavar="SECONDS", help="early arrival forgiven (default 0.02; 0 strict)"
    )
    strict.add_argument(
        "--handshake-delay",
        type=float,
        metavar="SECONDS",
        help="a new connection's first request counts as arrived this much later",
    )
    strict.add_argument(
        "--close-connection-rate", type=float, metavar="RATE", help="share of replies that close their connection"
    )
    strict.add_argument("--close-connection-seed", type=int, metavar="SEED",
                        help="seed of the connection closes (unset: 0)")
    parser.add_argument("--other-rate", type=float, default=1.0, help="other v2 endpoints per second per key")
    parser.add_argument(
        "--mirror-http-status", action="store_true", help="send meta codes as HTTP statuses too"
    )
    parser.add_argument("--balance", type=int, help="creations the balance pays for (default unlimited)")
    parser.add_argument("--quota", type=int, help="creations the plan quota allows (default unlimited)")
    parser.add_argument(
        "--mutate-every",
        type=int,
        default=0,
        metavar="N",
        help="advance the clock after every N-th list page",
    )
    parser.add_argument("--mutate-minutes", type=float, default=10.0, help="minutes per --mutate-every step")
    faults = parser.add_argument_group("fault injection (seeded, reproducible)")
    faults.add_argument(
        "--error-rate", action="append", default=[], metavar="CODE=RATE", help="e.g. 500=0.1 (repeatable)"
    )
    faults.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="added to every request"
    )
    faults.add_argument("--timeout-rate", type=float, default=0.0, help="share of requests held open")
    faults.add_argument(
        "--timeout-hold", type=float, default=30.0, metavar="SECONDS", help="how long a held request stays open"
    )
    faults.add_argument("--truncate-rate", type=float, default=0.0, help="share of bodies cut short")
    faults.add_argument("--reset-rate", type=float, default=0.0, help="share of connections reset")
    faults.add_argument(
        "--burst-429", type=int, default=0, metavar="N", help="refuse the first N list requests"
    )
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws (same seed, same faults)")
    parser.add_argument(
        "--write-truth",
        type=Path,
        metavar="DIR",
        help="write DIR/trackings.jsonl and DIR/expected_metrics.json, then exit",
    )


def _error_rates(pairs: list[str]) -> dict[str, float]:
    rates = {}
    for pair in pairs:
        code, _, rate = pair.partition("=")
        if not code.strip().isdigit() or not rate:
            raise argparse.ArgumentTypeError(f"--error-rate wants CODE=RATE, got {pair!r}")
        rates[code.strip()] = float(rate)
    return rates


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    base = SandboxConfig.strict() if args.strict else SandboxConfig()
    strict_knobs = {
        "rate_penalty_s": args.rate_penalty,
        "rate_tolerance_s": args.rate_tolerance,
        "handshake_delay_s": args.handshake_delay,
        "close_connection_rate": args.close_connection_rate,
        "close_connection_seed": args.close_connection_seed,
    }
    return dataclasses.replace(
        base,
        **{name: value for name, value in strict_knobs.items() if value is not None},
        trackings=args.trackings,
        seed=args.seed,
        api_keys=tuple(args.api_keys or ("sandbox-key",)),
        separate_accounts=args.separate_accounts,
        list_rate_per_s=args.list_rate or None,
        v4_list_rate_per_s=args.v4_list_rate or None,
        other_rate_per_s=args.other_rate or None,
        mirror_http_status=args.mirror_http_status,
        balance=args.balance,
        quota=args.quota,
        mutate_every_n_list_requests=args.mutate_every,
        mutate_advance_minutes=args.mutate_minutes,
        faults=FaultConfig(
            error_rates=_error_rates(args.error_rate),
            latency_s=args.latency,
            timeout_rate=args.timeout_rate,
            timeout_hold_s=args.timeout_hold,
            truncate_rate=args.truncate_rate,
            reset_rate=args.reset_rate,
            burst_429=args.burst_429,
            seed=args.fault_seed,
        ),
    )


def write_truth(server: SandboxServer, directory: Path) -> tuple[Path, Path]:
    """Trackings as served (JSON lines, list order) and the expected marts (one JSON object)."""
    directory.mkdir(parents=True, exist_ok=True)
    trackings_path = directory / "trackings.jsonl"
    metrics_path = directory / "expected_metrics.json"
    with trackings_path.open("wb") as out:
        for tracking in server.truth_trackings():
            out.write(orjson.dumps(tracking) + b"\n")
    metrics_path.write_bytes(orjson.dumps(server.expected_metrics(), option=orjson.OPT_INDENT_2))
    return trackings_path, metrics_path


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (exit code 0), or write the ground truth and exit."""
    config = config_from_args(args)
    server = SandboxServer(config)
    if args.write_truth is not None:
        for path in write_truth(server, args.write_truth):
            print(f"wrote {path}")
        return 0
    server.start(args.host, args.port)
    print(f"TrackingMore v2 sandbox: {server.base_url}  ({config.trackings} trackings, seed {config.seed})")
    if args.strict:
        print(
            f"  strict: tolerance {config.rate_tolerance_s} s, handshake {config.handshake_delay_s} s, "
            f"{config.close_connection_rate:.0%} of replies close, {config.rate_penalty_s:.0f} s after a 429"
        )
    for api_key in config.api_keys:
        print(f"  header  Trackingmore-Api-Key: {api_key}")
    print(f"  v4      {server.base_url_v4}  (same trackings; header Tracking-Api-Key)")
    admin = server.base_url.removesuffix("/v2") + "/_sandbox"
    print(f"  admin   {admin}/stats  {admin}/clock  {admin}/faults  {admin}/truth  {admin}/trackings")
    print("  Ctrl-C to stop", flush=True)  # scripts that start us in the background read this
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
