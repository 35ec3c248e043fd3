"""Run the sandbox in a separate process for benchmarks, so it never shares a CPU core's GIL with
the code being measured, and so its memory is not counted in the pipeline's peak RSS."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BENCH_KEY = "bench-key"
_URL = re.compile(r"(http://127\.0\.0\.1:\d+/v2)")


@contextmanager
def sandbox_process(
    trackings: int, list_rate_per_s: float, seed: int = 42, extra_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Start `tm-pipeline sandbox` on a free port; yields its base URL, stops it on exit.

    `extra_args` are more `tm-pipeline sandbox` flags, e.g. ("--strict",)."""
    command = [
        sys.executable, "-u", "-m", "tm_pipeline.cli", "sandbox", "--port", "0", "--trackings", str(trackings),
        "--seed", str(seed), "--list-rate", str(list_rate_per_s), *extra_args,
    ]
    if "--api-key" not in extra_args:
        command[command.index("--list-rate"):command.index("--list-rate")] = ["--api-key", BENCH_KEY]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base_url = None
        for line in process.stdout:  # type: ignore[union-attr]
            found = _URL.search(line)
            if found:
                base_url = found.group(1)
                break
        if base_url is None:
            raise RuntimeError(f"the sandbox did not start (exit code {process.wait()})")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _admin(base_url: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url.removesuffix("/v2") + path, timeout=600) as response:
        document: dict[str, Any] = json.loads(response.read())
    return document


def sandbox_stats(base_url: str) -> dict[str, Any]:
    return _admin(base_url, "/_sandbox/stats")


def sandbox_truth(base_url: str) -> dict[str, list[dict[str, Any]]]:
    """The sandbox's expected marts, computed by its own code from its own state."""
    return _admin(base_url, "/_sandbox/truth")
