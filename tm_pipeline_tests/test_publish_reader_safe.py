"""An analyst's read-only connection, held open in another process across a full run, neither
blocks the run nor breaks; after reconnecting it sees the new data. The publish shares the build
file (a hard link), so the run after the reader's writes a copy; the run after that, with no reader
left, writes the spare (the file the first run published) and catches it up from the lake."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from tm_pipeline.definitions import default_resources
from tm_pipeline.runs import materialize_all
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "reader-test-key"

READER = textwrap.dedent(
    """
    import sys, duckdb
    path = sys.argv[1]
    count = "SELECT count(*) FROM main.fct_shipments"
    connection = duckdb.connect(path, read_only=True)
    print("before", connection.execute(count).fetchall()[0][0], flush=True)
    sys.stdin.readline()  # the test runs the pipeline now
    print("during", connection.execute(count).fetchall()[0][0], flush=True)
    connection.close()
    connection = duckdb.connect(path, read_only=True)
    print("after", connection.execute(count).fetchall()[0][0], flush=True)
    """
)


def test_reader_holding_the_published_file_across_a_run(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = SandboxConfig(trackings=1500, seed=9, api_keys=(KEY,), new_trackings_per_day=2000)
    with SandboxServer(config).running() as sandbox:
        resources = default_resources(data_dir, base_url=sandbox.base_url, api_key=KEY)
        assert materialize_all(resources, data_dir).success
        published = resources["warehouse"].published_file
        first_file = os.stat(published).st_ino

        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(published)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        before = reader.stdout.readline().split()
        sandbox.advance_clock(24)  # a day passes: new trackings arrive, others progress
        second_run = materialize_all(resources, data_dir)
        reader.stdin.write("go\n")
        reader.stdin.flush()
        during, after = reader.stdout.readline().split(), reader.stdout.readline().split()
        assert reader.wait(timeout=60) == 0, reader.stderr.read()
        truth = len(sandbox.truth_trackings())

        # no reader now: the third run writes the spare, the first run's file, two syncs behind
        sandbox.advance_clock(24)
        third_run = materialize_all(resources, data_dir)
        third_truth = len(sandbox.truth_trackings())
        with duckdb.connect(str(published), read_only=True) as connection:
            third = connection.execute("SELECT count(*) FROM main.fct_shipments").fetchall()[0][0]

    assert second_run.success, "the writer was blocked or broken by the open reader"
    assert before == ["before", "1500"]
    assert during == ["during", "1500"], "the open reader must keep its consistent snapshot"
    assert after == ["after", str(truth)] and truth > 1500
    assert third_run.success and os.stat(published).st_ino == first_file
    assert third == third_truth > truth, "the spare caught up with both syncs it missed"
