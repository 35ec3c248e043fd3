"""An analyst's read-only connection, held open in another process across a full run, neither
blocks the run nor breaks; after reconnecting it sees the new data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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

    assert second_run.success, "the writer was blocked or broken by the open reader"
    assert before == ["before", "1500"]
    assert during == ["during", "1500"], "the open reader must keep its consistent snapshot"
    assert after == ["after", str(truth)] and truth > 1500
