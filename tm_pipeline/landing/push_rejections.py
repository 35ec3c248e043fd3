"""Refused webhook pushes, recorded for an operator: why, from whom, and a short prefix of the body.

    <root>/pushes_rejected/rejected-00000001.jsonl   one refusal per line

Evidence, not data: bounded in files and in bytes per record, never the token or the secret
(the receiver never passes them), and not fsynced (a flood of refusals must not cost a disk
flush each).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REJECTED_DIR = "pushes_rejected"
REJECTED_BODY_PREFIX_BYTES = 256
REJECTED_FILE_BYTES = 4 * 1024 * 1024
REJECTED_FILES_KEPT = 4  # the oldest file goes first


class RejectionLog:
    """Append refusals; at most REJECTED_FILES_KEPT files of REJECTED_FILE_BYTES each. Thread-safe."""

    def __init__(self, lake_root: Path) -> None:
        self.directory = Path(lake_root) / REJECTED_DIR
        self._lock = threading.Lock()
        self.recorded = 0

    def record(self, reason: str, status: int, client: str, detail: str, body: bytes) -> None:
        entry: dict[str, Any] = {
            "at": datetime.now(timezone.utc).isoformat(),
            "status": status,
            "reason": reason,
            "client": client,
            "detail": detail[:300],
            "body_bytes": len(body),
            "body_prefix": body[:REJECTED_BODY_PREFIX_BYTES].decode("utf-8", errors="replace"),
        }
        line = json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n"
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            files = sorted(self.directory.glob("rejected-*.jsonl"))
            current = files[-1] if files else self.directory / "rejected-00000001.jsonl"
            if current.exists() and current.stat().st_size + len(line) > REJECTED_FILE_BYTES:
                number = int(current.stem.removeprefix("rejected-")) + 1
                current = self.directory / f"rejected-{number:08d}.jsonl"
                files.append(current)
            with open(current, "ab") as stream:
                stream.write(line)
            for old in files[:-REJECTED_FILES_KEPT]:
                old.unlink(missing_ok=True)
            self.recorded += 1


def read_rejections(lake_root: Path) -> list[dict[str, Any]]:
    directory = Path(lake_root) / REJECTED_DIR
    found: list[dict[str, Any]] = []
    for path in sorted(directory.glob("rejected-*.jsonl")):
        found.extend(json.loads(line) for line in path.read_bytes().splitlines() if line.strip())
    return found
