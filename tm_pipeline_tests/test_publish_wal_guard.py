"""The publish never copies a build file that still has a write-ahead log.

The WAL is real: a writer process inserts rows and is killed before it checkpoints, leaving its
log beside the build file. The publish's own CHECKPOINT folds such a log in (first test, no
mocks). The guard is for a writer that slips in between that checkpoint and the copy, a window a
test cannot hit on purpose; the second test stands in for it by pointing the publish's checkpoint
connection at a scratch file (the only mock), so the build file's log is still there when the
guard looks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.publish import snapshot
from tm_pipeline.publish.snapshot import publish_snapshot

CRASHING_WRITER = """
import os, sys
import duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("SET checkpoint_threshold = '1GB'")  # keep the insert in the log
connection.execute("INSERT INTO main.facts SELECT range FROM range(1000, 1100)")
os._exit(0)  # killed before any checkpoint: the log stays on disk
"""


def _build_with_unfolded_wal(tmp_path: Path) -> Path:
    build = tmp_path / "build" / "warehouse.duckdb"
    build.parent.mkdir()
    with duckdb.connect(str(build)) as connection:
        connection.execute("CREATE TABLE main.facts AS SELECT range AS n FROM range(10)")
    subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(build)], check=True, timeout=60)
    wal = build.with_name(build.name + ".wal")
    assert wal.exists() and wal.stat().st_size > 0, "the writer left no log: the premise of these tests"
    return build


def test_a_crashed_writers_log_is_folded_in_before_publishing(tmp_path: Path) -> None:
    build = _build_with_unfolded_wal(tmp_path)
    published = tmp_path / "warehouse.duckdb"
    publish_snapshot(build, published)
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM main.facts").fetchone() == (110,)


def test_a_log_still_there_after_the_checkpoint_stops_the_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _build_with_unfolded_wal(tmp_path)
    published = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(published)) as connection:
        connection.execute("CREATE TABLE main.before AS SELECT 1 AS n")
    before = published.read_bytes()
    scratch = tmp_path / "scratch.duckdb"
    real_connect = duckdb.connect
    monkeypatch.setattr(snapshot.duckdb, "connect", lambda *args, **kwargs: real_connect(str(scratch)))

    with pytest.raises(RuntimeError, match="still has a write-ahead log") as raised:
        publish_snapshot(build, published)

    assert str(build) in str(raised.value)
    assert published.read_bytes() == before, "the published file changed"
    assert not list(tmp_path.glob(".warehouse.duckdb.publishing*")), "a staging copy was left behind"
