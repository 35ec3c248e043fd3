"""`tm-pipeline ui`: the Dagster UI and daemon (`dagster dev`) with the pipeline's own Dagster home.

Without `DAGSTER_HOME`, `dagster dev` writes a `.tmp_dagster_home_*` into the current directory
and forgets the pool limits, so two runs could spend the same key's 1 request/second at once.
This command always points it at `<data_dir>/dagster_home` (pool limits written there), and with
`--sandbox` also starts a local TrackingMore stand-in and hands its URL and key to the UI's runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path

from tm_pipeline import settings
from tm_pipeline.runs import dagster_home

SANDBOX_UI_KEY = "sandbox-key"  # the same default key as `tm-pipeline sandbox`
STOP_TIMEOUT_S = 30.0  # dagster dev stops its webserver, daemon and code servers in a few seconds
INTERRUPT_GRACE_S = 2.0  # after Ctrl-C, how long dagster dev may take to notice the terminal's own SIGINT


def dagster_dev_command(host: str, port: int) -> list[str]:
    """The code is loaded by module name, so the UI starts from any directory, not only the repo's."""
    return [sys.executable, "-m", "dagster", "dev", "-m", "tm_pipeline.definitions", "-h", host, "-p", str(port)]


def ui_environment(data_dir: Path, base: Mapping[str, str], sandbox_url: str | None = None) -> dict[str, str]:
    """The environment of `dagster dev`: Dagster home and data dir pinned, sandbox URL and key if given."""
    environment = {**base, "DAGSTER_HOME": str(dagster_home(data_dir)), settings.DATA_DIR_VAR: str(data_dir)}
    if sandbox_url is not None:
        environment[settings.BASE_URL_VAR] = sandbox_url
        environment[settings.API_KEY_VAR] = SANDBOX_UI_KEY
    return environment


@contextmanager
def _sandbox(trackings: int, port: int) -> Iterator[str]:
    from tm_pipeline.sandbox import SandboxConfig, SandboxServer  # only needed with --sandbox

    config = SandboxConfig(trackings=trackings, api_keys=(SANDBOX_UI_KEY,))
    with SandboxServer(config).running(port=port) as server:
        yield server.base_url


def run_ui(data_dir: Path, host: str, port: int, sandbox_trackings: int | None, sandbox_port: int) -> int:
    """Run `dagster dev` in the foreground until Ctrl-C or SIGTERM; stop the sandbox afterwards."""
    sandbox = _sandbox(sandbox_trackings, sandbox_port) if sandbox_trackings is not None else nullcontext(None)
    with sandbox as sandbox_url:
        environment = ui_environment(data_dir, os.environ, sandbox_url)
        print(f"Dagster UI: http://{host}:{port}  (DAGSTER_HOME={environment['DAGSTER_HOME']})")
        if sandbox_url:
            print(f"  runs use the sandbox {sandbox_url} with key {SANDBOX_UI_KEY} "
                  f"({sandbox_trackings:,} trackings); it stops with the UI")
        elif not environment.get(settings.API_KEY_VAR):
            print(f"  {settings.API_KEY_VAR} is not set: runs will fail until you export it "
                  "(or start the UI with --sandbox)")
        print("  Ctrl-C to stop", flush=True)
        # dagster dev stops cleanly on SIGINT only (it ignores SIGTERM), and a process started in the
        # background inherits an ignored SIGINT: restore Python's handler so the child gets a default one.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        process = subprocess.Popen(dagster_dev_command(host, port), env=environment, cwd=data_dir)
        # A service manager stops us with SIGTERM: pass it on as the SIGINT dagster dev understands.
        previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: process.send_signal(signal.SIGINT))
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Ctrl-C in a terminal reached dagster dev too; a SIGINT sent to us alone did not.
            return _wait_or_kill(process, interrupt_after_s=INTERRUPT_GRACE_S)
        finally:
            if process.poll() is None:
                _wait_or_kill(process, interrupt_after_s=0.0)
            signal.signal(signal.SIGTERM, previous)


def _wait_or_kill(process: subprocess.Popen[bytes], interrupt_after_s: float) -> int:
    """Give dagster dev `interrupt_after_s` to stop on its own, then SIGINT it, then kill it."""
    try:
        return process.wait(timeout=interrupt_after_s)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
