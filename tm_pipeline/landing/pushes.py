"""The push log: webhook pushes landed durably, append-only, before the receiver answers 200.

    <root>/pushes/segment-00000001.jsonl      one accepted push per line, fsynced before its 200

(Refused pushes are recorded apart, in landing/push_rejections.py.)

A line is `{"received_at", "shape", "tracking_id", "sha256", "body"}`: `body` is the request
body exactly as received (accepted bodies are valid UTF-8 JSON, so the text round-trips to the
same bytes; `sha256` is of those bytes and proves it). Lines are only ever appended; a crash
mid-write leaves at most one torn last line, which readers skip: it was never fsynced, so it was
never answered 200, and TrackingMore sends it again.

Group commit: concurrent appends each write their line, then one of them fsyncs for all lines
written so far; every caller returns only once an fsync covering its own line has completed. So
many concurrent pushes share one fsync instead of queueing for one each.

Sealing (tm_pipeline/webhooks/seal.py) turns byte ranges of segments into lake extractions; the
log itself never changes what it wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

PUSHES_DIR = "pushes"
SEGMENT_GLOB = "segment-*.jsonl"
# A segment rolls over past this size, so no file grows without bound and sealed ones can be archived.
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class PushRecord:
    """One landed push as read back: where its line is, and what it holds."""

    segment: str  # file name under pushes/
    start: int  # byte offset of its line
    end: int  # byte offset just past its newline
    received_at: datetime
    shape: str  # "v2" | "v4"
    tracking_id: str
    body: bytes  # exactly as received


def _fsync_directory(directory: Path) -> None:
    """A new file's name is durable only once its directory is fsynced."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def segment_index(name: str) -> int:
    return int(name.removeprefix("segment-").removesuffix(".jsonl"))


class PushLog:
    """Append accepted pushes durably; thread-safe, one instance per receiver process.

    Two processes must not write the same log: `open` takes an exclusive lock file."""

    def __init__(self, lake_root: Path, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.directory = Path(lake_root) / PUSHES_DIR
        self.segment_bytes = segment_bytes
        self._write_lock = threading.Lock()  # orders lines and file switches
        self._sync_lock = threading.Lock()  # one fsync at a time; waiters ride on the next one
        self._written = 0  # lines written (not yet necessarily durable)
        self._durable = 0  # lines covered by a completed fsync
        self._file: IO[bytes] | None = None
        self._segment_index = 0
        self._lock_file: IO[bytes] | None = None
        self.fsyncs = 0

    def open(self) -> PushLog:
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.directory / ".writer.lock", "wb")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise RuntimeError(
                f"another receiver is writing the push log in {self.directory}; stop it first, "
                "or give this one another TM_DATA_DIR"
            ) from None
        existing = sorted(self.directory.glob(SEGMENT_GLOB), key=lambda p: segment_index(p.name))
        # Always a new segment: the last one of a killed receiver may end in a torn line.
        self._segment_index = segment_index(existing[-1].name) + 1 if existing else 1
        self._open_segment()
        return self

    def _open_segment(self) -> None:
        path = self.directory / f"segment-{self._segment_index:08d}.jsonl"
        self._file = open(path, "ab")
        _fsync_directory(self.directory)

    def close(self) -> None:
        with self._write_lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def append(self, body: bytes, shape: str, tracking_id: str, received_at: datetime) -> None:
        """Write one push and return once it is on disk (fsynced); raises OSError if it could not be."""
        line = (
            json.dumps(
                {
                    "received_at": received_at.astimezone(timezone.utc).isoformat(),
                    "shape": shape,
                    "tracking_id": tracking_id,
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "body": body.decode("utf-8"),
                },
                ensure_ascii=False,
            ).encode("utf-8")
            + b"\n"
        )
        with self._write_lock:
            if self._file is None:
                raise RuntimeError("the push log is closed")
            if self._file.tell() + len(line) > self.segment_bytes and self._file.tell() > 0:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._segment_index += 1
                self._open_segment()
            self._file.write(line)
            self._written += 1
            my_line = self._written
        with self._sync_lock:
            if self._durable >= my_line:
                return  # another caller's fsync already covered this line
            with self._write_lock:
                assert self._file is not None
                self._file.flush()
                covered = self._written
                # A duplicate descriptor: a rollover may close the segment's own while we fsync.
                descriptor = os.dup(self._file.fileno())
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            self.fsyncs += 1
            self._durable = covered


def _parse_line(segment: str, start: int, line: bytes) -> PushRecord:
    document = json.loads(line)
    body = document["body"].encode("utf-8")
    if hashlib.sha256(body).hexdigest() != document["sha256"]:
        raise ValueError("body does not match its sha256")
    return PushRecord(
        segment=segment,
        start=start,
        end=start + len(line),
        received_at=datetime.fromisoformat(document["received_at"]),
        shape=str(document["shape"]),
        tracking_id=str(document["tracking_id"]),
        body=body,
    )


def segment_names(lake_root: Path) -> list[str]:
    directory = Path(lake_root) / PUSHES_DIR
    return [p.name for p in sorted(directory.glob(SEGMENT_GLOB), key=lambda p: segment_index(p.name))]


def complete_end(path: Path) -> int:
    """Offset just past the last complete line: a torn last line (a crash mid-write) is not counted."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as stream:
        position = size
        while position > 0:
            step = min(65536, position)
            stream.seek(position - step)
            block = stream.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                return position - step + newline + 1
            position -= step
    return 0


def read_records(lake_root: Path, segment: str, start: int, end: int) -> Iterator[PushRecord]:
    """The complete records of `segment` in [start, end); a line that fails its checksum raises ValueError
    naming the segment and offset (the log is append-only, so that is damage, never a torn write)."""
    path = Path(lake_root) / PUSHES_DIR / segment
    with open(path, "rb") as stream:
        stream.seek(start)
        offset = start
        while offset < end:
            line = stream.readline()
            if not line.endswith(b"\n"):
                return
            try:
                yield _parse_line(segment, offset, line)
            except (ValueError, KeyError, TypeError, UnicodeError) as error:
                raise ValueError(
                    f"{path} at byte {offset}: push record damaged ({error}); move the segment aside "
                    "and restore it from a backup, or ask TrackingMore to resend"
                ) from None
            offset += len(line)
