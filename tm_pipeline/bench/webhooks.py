"""Benchmark: webhook pushes. Sustained pushes/s with p50/p99 latency, and update → published time.

Throughput: the sandbox (its own process) is the load generator, pushing every tracking a clock
advance changed with `senders` concurrent connections to `tm-pipeline webhook` (its own process),
which fsyncs each push before answering. Latency is the sender's, from request to the 200 (the
fsync included); pushes/s is pushes answered 200 over the time from the first send to the last
answer. Both processes share the machine's 2 cores with the rest of the machine.

Update → published: after a polled sync, the clock advances once; the seconds from that advance
to the end of the run that published the pushed states, with the sensor and run queue driven the
way the daemon drives them (a sensor iteration every second, gated by the sensor's own minimum
interval; the run in a run worker process).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from tm_pipeline import settings
from tm_pipeline.bench.daemon_launch import SensorDriver
from tm_pipeline.bench.sandbox_process import BENCH_KEY, sandbox_process
from tm_pipeline.webhooks.config import PATH_TOKEN_VAR

TOKEN = "bench-" + "w" * 30
TICK_EVERY_S = 1.0
ADVANCE_DAYS = 10  # enough changes to keep the senders busy for a while: a sustained rate, not a burst


@contextmanager
def receiver_process(data_dir: Path, client_rate_per_s: float = 100_000.0) -> Iterator[str]:
    """`tm-pipeline webhook` on a free port; yields its push URL, stops it (SIGTERM) on exit."""
    command = [
        sys.executable, "-u", "-m", "tm_pipeline.cli", "webhook", "--port", "0", "--data-dir", str(data_dir),
        "--client-rate-per-s", str(client_rate_per_s), "--client-burst", str(client_rate_per_s),
    ]
    process = subprocess.Popen(
        command, env={**os.environ, PATH_TOKEN_VAR: TOKEN}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        found = re.search(r"http://[\d.]+:\d+", process.stdout.readline())
        if found is None:
            raise RuntimeError(f"the webhook receiver did not start (exit code {process.wait()})")
        yield f"{found.group(0)}/webhooks/{TOKEN}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _admin(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        base_url.removesuffix("/v2") + path, method=method,
        data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        document: dict[str, Any] = json.loads(response.read())
    return document


def _wait_idle(base_url: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        stats = _admin(base_url, "GET", "/_sandbox/webhook")
        if stats["queued_now"] == 0 and stats["in_flight"] == 0:
            return stats
        if time.monotonic() > deadline:
            raise TimeoutError(f"pushes still queued after {timeout_s:.0f} s: {stats['counts']}")
        time.sleep(0.05)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_push_throughput(trackings: int, senders: int, log: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(trackings, 0.0) as base_url, \
            receiver_process(Path(tmp)) as url:
        _admin(base_url, "POST", "/_sandbox/webhook", {"url": url, "senders": senders, "secret": None})
        log(f"webhooks: pushing the changes of a {ADVANCE_DAYS}-day advance of {trackings:,} trackings, "
            f"{senders} senders")
        started = time.perf_counter()
        _admin(base_url, "POST", "/_sandbox/clock", {"advance_hours": 24 * ADVANCE_DAYS})
        stats = _wait_idle(base_url, 600)
        elapsed_s = time.perf_counter() - started
    latencies = stats["latencies_ms"]
    delivered = stats["counts"].get("delivered", 0)
    return {
        "pushes": delivered,
        "senders": senders,
        "answers": stats["answers"],
        "seconds": elapsed_s,
        "pushes_per_s": delivered / elapsed_s,
        "latency_ms_p50": _percentile(latencies, 0.50),
        "latency_ms_p99": _percentile(latencies, 0.99),
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """The deployment's environment, which the code server and run worker inherit."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def bench_update_to_published(trackings: int, log: Callable[[str], None], rounds: int = 3) -> dict[str, Any]:
    from tm_pipeline.definitions import default_resources
    from tm_pipeline.runs import dagster_home, instance_for, materialize_all

    rounds_measured: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(trackings, 1.0) as base_url:
        data_dir = Path(tmp) / "data"
        environment = {settings.API_KEY_VAR: BENCH_KEY, settings.BASE_URL_VAR: base_url,
                       settings.DATA_DIR_VAR: str(data_dir), "DAGSTER_HOME": str(dagster_home(data_dir))}
        with _environment(environment), receiver_process(data_dir) as url:
            log(f"webhooks: a polled sync of {trackings:,} trackings, then {rounds} advances, pushed and published")
            if not materialize_all(default_resources(data_dir, base_url=base_url, api_key=BENCH_KEY), data_dir).success:
                raise RuntimeError("the polled sync before the push rounds failed")
            _admin(base_url, "POST", "/_sandbox/webhook", {"url": url})
            with instance_for(data_dir) as instance, SensorDriver(instance) as daemon:
                for _ in range(rounds):
                    rounds_measured.append(_one_round(base_url, daemon, data_dir, log))

    def median(name: str) -> float:
        return statistics.median(r[name] for r in rounds_measured)

    return {
        "trackings": trackings,
        "rounds": rounds_measured,
        "median_update_to_published_s": median("published_s"),
        "median_pushes_delivered_s": median("pushes_delivered_s"),
        "median_run_created_s": median("run_created_s"),
        "median_run_started_s": median("run_started_s"),
    }


def _watch_delivery(base_url: str, delivered_before: int, advanced_at: float, delivered_s: list[float]) -> None:
    """Note when the sandbox has no push queued or in flight any more (after at least one was answered)."""
    deadline = advanced_at + 600
    while time.monotonic() < deadline:
        stats = _admin(base_url, "GET", "/_sandbox/webhook")
        idle = stats["queued_now"] == 0 and stats["in_flight"] == 0
        if idle and stats["counts"].get("delivered", 0) > delivered_before:
            delivered_s.append(time.monotonic() - advanced_at)
            return
        time.sleep(0.05)


def _one_round(base_url: str, daemon: SensorDriver, data_dir: Path, log: Callable[[str], None]) -> dict[str, float]:
    """Advance the clock by 3 h, tick the sensor every second until it starts a run, wait for the run.
    Seconds from the advance: all pushes answered, run created, run started (worker up), published."""
    import duckdb

    delivered_before = _admin(base_url, "GET", "/_sandbox/webhook")["counts"].get("delivered", 0)
    advanced_at = time.monotonic()
    advanced_wall = time.time()
    clock = _admin(base_url, "POST", "/_sandbox/clock", {"advance_hours": 3})
    delivered_s: list[float] = []
    watcher = threading.Thread(target=_watch_delivery, args=(base_url, delivered_before, advanced_at, delivered_s))
    watcher.start()
    run_id = None
    try:
        while run_id is None:
            if time.monotonic() - advanced_at > 600:
                raise TimeoutError("no push run within 600 s of the advance")
            created = daemon.tick()
            run_id = created[0] if created else None
            if run_id is None:
                time.sleep(TICK_EVERY_S)
        created_s = time.monotonic() - advanced_at
        run = daemon.wait(run_id, 600)
        published_s = time.monotonic() - advanced_at
    finally:
        watcher.join(timeout=600)
    if run.status.value != "SUCCESS":
        raise RuntimeError(f"push run {run_id} ended {run.status.value}")
    record = daemon.instance.get_run_record_by_id(run_id)
    newest = max(t["updated_at"] or "" for t in _admin_trackings(base_url))
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as published:
        row = published.execute("SELECT max(updated_at) FROM raw.trackings").fetchone()
    if (row[0] if row else None) != datetime.fromisoformat(newest):
        raise RuntimeError(f"the published warehouse's newest update is {row}, not {newest}")
    delivered_after = _admin(base_url, "GET", "/_sandbox/webhook")["counts"].get("delivered", 0)
    measured = {
        "pushes": delivered_after - delivered_before,
        "pushes_delivered_s": round(delivered_s[0], 1) if delivered_s else -1.0,
        "run_created_s": round(created_s, 1),
        "run_started_s": round((record.start_time or advanced_wall) - advanced_wall, 1) if record else -1.0,
        "published_s": round(published_s, 1),
    }
    log(f"webhooks: advance to {clock['now']}: {measured}")
    return measured


def _admin_trackings(base_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(base_url.removesuffix("/v2") + "/_sandbox/trackings", timeout=600) as response:
        return [json.loads(line) for line in response.read().splitlines() if line.strip()]


def bench_webhooks(log: Callable[[str], None], trackings: int = 100_000) -> dict[str, Any]:
    return {
        "throughput": bench_push_throughput(trackings, senders=8, log=log),
        "update_to_published": bench_update_to_published(4500, log),
    }
