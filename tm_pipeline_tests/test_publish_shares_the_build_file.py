"""The publish gives the build file a second name instead of copying it, and the build file is never
written while it is the published one: the next write moves the build name to the spare (the file
published before, once no reader holds it) or to a copy. Real DuckDB files; the reader is another
process, as an analyst's is, so DuckDB's file locks are the real ones."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.contracts.warehouse_file import connect_build, spare_of
from tm_pipeline.models.results import CheckRecord, record_check_results
from tm_pipeline.publish.snapshot import publish_snapshot

READER = textwrap.dedent(
    """
    import sys, duckdb
    connection = duckdb.connect(sys.argv[1], read_only=True)
    for line in sys.stdin:
        if line.strip() == "close":
            break
        print(connection.execute("select v from main.t").fetchall()[0][0], flush=True)
    connection.close()
    """
)


def write_run(build: Path, value: int) -> None:
    """What a run does to the build file, in miniature: new derived data and one more check result."""
    with connect_build(build) as connection:
        connection.execute("create or replace table main.t as select ? as v", [value])
        record_check_results(connection, f"run-{value}", [CheckRecord("check", "t", True, "error", float(value))])


def state(path: Path) -> tuple[int, list[str]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        value = connection.execute("select v from main.t").fetchall()[0][0]
        history = connection.execute("select run_id from main.dq_check_results order by checked_at").fetchall()
    return value, [row[0] for row in history]


@pytest.fixture
def reader():
    started: list[subprocess.Popen[str]] = []

    def start(path: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-c", READER, str(path)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=30)


def ask(process: subprocess.Popen[str]) -> int:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("read\n")
    process.stdin.flush()
    return int(process.stdout.readline())


def close(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("close\n")
    process.stdin.flush()
    assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""


def test_publish_links_and_the_next_write_moves_to_the_spare_or_a_copy(tmp_path, reader):
    build, published = tmp_path / "build" / "warehouse.duckdb", tmp_path / "warehouse.duckdb"
    build.parent.mkdir()
    write_run(build, 1)
    publish_snapshot(build, published)
    assert os.path.samefile(build, published)  # a second name, no bytes copied
    assert stat.S_IMODE(os.stat(published).st_mode) == 0o444  # an analyst's read-write open fails
    first = os.stat(published).st_ino

    # an analyst opens the published file; the next run writes elsewhere (no spare yet: a copy)
    analyst = reader(published)
    assert ask(analyst) == 1
    write_run(build, 2)
    assert not os.path.samefile(build, published)
    assert ask(analyst) == 1 and state(published) == (1, ["run-1"])  # the reader's snapshot is intact
    publish_snapshot(build, published)
    second = os.stat(published).st_ino
    assert os.stat(spare_of(build)).st_ino == first  # the file published before is the spare now

    # the spare is still held by the analyst: the run writes a copy of the published file, not the spare
    write_run(build, 3)
    assert os.stat(build).st_ino not in (first, second)
    assert ask(analyst) == 1
    close(analyst)
    publish_snapshot(build, published)
    third = os.stat(published).st_ino
    assert os.stat(spare_of(build)).st_ino == second

    # nobody holds the spare: the run writes the spare itself, and it takes the check history it lacked
    write_run(build, 4)
    assert os.stat(build).st_ino == second and os.access(build, os.W_OK)
    assert stat.S_IMODE(os.stat(build).st_mode) == 0o644  # the spare, writable again for the pipeline
    assert state(build) == (4, ["run-1", "run-2", "run-3", "run-4"])
    assert os.stat(spare_of(build)).st_ino == third and state(published) == (3, ["run-1", "run-2", "run-3"])


def test_publishing_twice_without_a_write_between_is_a_no_op(tmp_path):
    build, published = tmp_path / "build.duckdb", tmp_path / "warehouse.duckdb"
    write_run(build, 1)
    size = publish_snapshot(build, published)
    assert publish_snapshot(build, published) == size and os.path.samefile(build, published)
    assert state(published) == (1, ["run-1"])
