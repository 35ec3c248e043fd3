"""Kill -9 the receiver under load: every push the sandbox saw answered 200 is in the lake.

The receiver runs as `tm-pipeline webhook` in its own process, so SIGKILL stops it mid-request
without any shutdown code running; the sandbox keeps pushing (and retrying) through the kill.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tm_pipeline.landing.lake import Lake
from tm_pipeline.landing.pushes import complete_end, read_records, segment_names
from tm_pipeline.sandbox import SandboxConfig, SandboxServer
from tm_pipeline.webhooks.config import PATH_TOKEN_VAR
from tm_pipeline.webhooks.seal import seal_pushes

TOKEN = "kill-nine-" + "z" * 24


def _start_receiver(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    receiver = subprocess.Popen(
        [sys.executable, "-m", "tm_pipeline.cli", "webhook", "--port", "0", "--data-dir", str(data_dir)],
        env={**os.environ, PATH_TOKEN_VAR: TOKEN}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert receiver.stdout is not None
    banner = receiver.stdout.readline()  # printed once the socket listens
    found = re.search(r"http://[\d.]+:\d+", banner)
    assert found, f"no address in the receiver's banner: {banner!r}"
    return receiver, f"{found.group(0)}/webhooks/{TOKEN}"


def test_every_push_answered_200_before_a_kill_9_is_in_the_lake(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    receiver, url = _start_receiver(data_dir)
    try:
        with SandboxServer(SandboxConfig(trackings=3000, seed=9)).running() as sandbox:
            sandbox.configure_webhook({"url": url, "senders": 8, "retries": 2, "backoff_s": 0.05, "timeout_s": 5})
            for _ in range(2):
                sandbox.advance_clock(48)
            assert sandbox.webhook is not None
            deadline = time.monotonic() + 60
            while sandbox.webhook.stats()["counts"].get("delivered", 0) < 300:
                assert time.monotonic() < deadline and receiver.poll() is None, "the receiver never got going"
                time.sleep(0.01)
            receiver.send_signal(signal.SIGKILL)
            receiver.wait(timeout=10)
            assert sandbox.webhook.wait_idle(60)
            sent = sandbox.webhook.stats()
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait(timeout=10)

    assert sent["counts"].get("gave_up", 0) > 0, "the kill came after the last push: it proved nothing"
    lake_root = data_dir / "lake"
    landed = {
        hashlib.sha256(record.body).hexdigest()
        for segment in segment_names(lake_root)
        for record in read_records(lake_root, segment, 0, complete_end(lake_root / "pushes" / segment))
    }
    acknowledged = set(sent["acknowledged_sha256"])
    assert len(acknowledged) >= 300
    assert acknowledged - landed == set()
    # And the log, torn tail and all, seals: every complete record once.
    assert seal_pushes(Lake(lake_root)).records == sum(
        1
        for segment in segment_names(lake_root)
        for _ in read_records(lake_root, segment, 0, complete_end(lake_root / "pushes" / segment))
    )
