"""`tm-pipeline sandbox`: run the stand-in API in the foreground, or dump its ground truth."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import orjson

from .config import SandboxConfig
from .server import SandboxServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the `sandbox` sub-command."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--trackings", type=int, default=20000, help="number of trackings to generate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--api-key", action="append", dest="api_keys", help="valid API key (repeatable; default sandbox-key)"
    )
    parser.add_argument(
        "--list-rate",
        type=float,
        default=1.0,
        help="accepted list requests per second per key (0 = unthrottled)",
    )
    parser.add_argument(
        "--write-truth",
        type=Path,
        metavar="DIR",
        help="write DIR/trackings.jsonl and DIR/expected_metrics.json, then exit",
    )


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        trackings=args.trackings,
        seed=args.seed,
        api_keys=tuple(args.api_keys or ("sandbox-key",)),
        list_rate_per_s=args.list_rate or None,
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
    for api_key in config.api_keys:
        print(f"  header  Trackingmore-Api-Key: {api_key}")
    print(f"  stats   {server.base_url.removesuffix('/v2')}/_sandbox/stats   (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
