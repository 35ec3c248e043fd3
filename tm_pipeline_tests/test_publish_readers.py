"""The published warehouse of a real pipeline run opens in every reader analysts use.

DuckDB 2.x writes a storage format that DuckDB 1.x refuses, and most readers are 1.x: the CLI,
Metabase's, Superset's (SQLAlchemy + duckdb_engine) and Evidence's drivers. The 1.x reader and
SQLAlchemy run in `.venv-duckdb1` (pinned by .ci/venv-duckdb1.txt, made by .ci/run); the current
duckdb, pandas and README's `duckdb` command run in the product's venv.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tm_pipeline.publish.snapshot import READER_STORAGE_VERSION
from tm_pipeline.resources import WarehouseResource
from tm_pipeline_tests.side_venvs import REPO_ROOT, side_venv_bin

MART = "main.delivery_time_by_carrier"

# Runs under DuckDB 1.x: every relation's row count straight through duckdb, and one mart through
# SQLAlchemy with the URI docs/analysts.md gives for Superset.
READER_1X = textwrap.dedent(
    """
    import json, sys
    import duckdb, sqlalchemy
    path, mart = sys.argv[1], sys.argv[2]
    connection = duckdb.connect(path, read_only=True)
    relations = connection.execute(
        "select table_schema || '.' || table_name from information_schema.tables order by 1"
    ).fetchall()
    counts = {name: connection.execute(f"select count(*) from {name}").fetchall()[0][0] for (name,) in relations}
    connection.close()
    engine = sqlalchemy.create_engine(f"duckdb:///{path}?access_mode=read_only")
    with engine.connect() as session:
        mart_rows = [list(row) for row in session.execute(sqlalchemy.text(f"select * from {mart} order by 1"))]
    engine.dispose()
    print(json.dumps({"duckdb": duckdb.__version__, "sqlalchemy": sqlalchemy.__version__,
                      "counts": counts, "mart_rows": mart_rows}))
    """
)


@pytest.fixture(scope="module")
def published(finished_run: WarehouseResource) -> Path:
    return finished_run.published_file


@pytest.fixture(scope="module")
def build_file(finished_run: WarehouseResource) -> Path:
    return finished_run.build_file


def relations(connection: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str, str]]:
    return connection.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_catalog = ? order by 1, 2",
        [catalog],
    ).fetchall()


def row_counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            f"{schema}.{name}": connection.execute(f"select count(*) from {schema}.{name}").fetchall()[0][0]
            for schema, name, _ in relations(connection, path.stem)
        }


@pytest.fixture(scope="module")
def read_by_duckdb_1x(published: Path) -> dict:
    python = side_venv_bin("duckdb1") / "python"
    result = subprocess.run(
        [str(python), "-c", READER_1X, str(published), MART], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_published_file_carries_the_storage_version_1x_readers_accept(published: Path) -> None:
    with duckdb.connect() as connection:
        connection.execute(f"attach '{published}' as published (read_only)")
        (tags,) = connection.execute("select tags from duckdb_databases() where database_name = 'published'").fetchone()
    # DuckDB 1.x readers accept the formats of 1.0 up to their own; any v1.* qualifies, ours is the oldest
    assert re.fullmatch(r"v1\.\d+\.\d+\+?", tags["storage_version"]), tags
    assert tags["storage_version"].startswith(READER_STORAGE_VERSION)


def test_publish_copies_every_table_and_view_exactly(published: Path, build_file: Path) -> None:
    """The published file is rewritten, not copied byte for byte: nothing may get lost on the way."""
    with duckdb.connect() as connection:
        connection.execute(f"attach '{build_file}' as build (read_only)")
        connection.execute(f"attach '{published}' as published (read_only)")
        built, copied = relations(connection, "build"), relations(connection, "published")
        assert copied == built
        for schema, name, kind in built:
            for left, right in (("build", "published"), ("published", "build")):
                missing = connection.execute(
                    f"select count(*) from (from {left}.{schema}.{name} except all from {right}.{schema}.{name})"
                ).fetchall()[0][0]
                assert missing == 0, f"{kind} {schema}.{name}: {missing} rows of {left} not in {right}"
    assert {"main.fct_shipments", "raw.trackings", "raw.tracking_json"} <= {f"{s}.{n}" for s, n, _ in built}


def test_duckdb_1x_reads_every_relation_of_the_published_file(read_by_duckdb_1x: dict, build_file: Path) -> None:
    assert read_by_duckdb_1x["duckdb"].startswith("1.")
    assert read_by_duckdb_1x["counts"] == row_counts(build_file)


def test_sqlalchemy_with_duckdb_engine_reads_a_mart_as_superset_does(
    read_by_duckdb_1x: dict, published: Path
) -> None:
    with duckdb.connect(str(published), read_only=True) as connection:
        expected = [list(row) for row in connection.execute(f"select * from {MART} order by 1").fetchall()]
    assert read_by_duckdb_1x["mart_rows"] == expected and expected


def test_duckdb_1x_refuses_a_file_in_the_current_default_format(tmp_path: Path) -> None:
    """The control: without the explicit storage version, the 1.x reader above would fail."""
    if int(duckdb.__version__.split(".")[0]) < 2:
        pytest.skip(f"duckdb {duckdb.__version__} still writes a format 1.x reads")
    default_format = tmp_path / "default.duckdb"
    with duckdb.connect(str(default_format)) as connection:
        connection.execute("create table t as select 1 as x")
    python = side_venv_bin("duckdb1") / "python"
    opening = f"import duckdb; duckdb.connect({str(default_format)!r}, read_only=True)"
    result = subprocess.run([str(python), "-c", opening], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "version number" in result.stderr, result.stderr


def readme_open_it_command() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith(".venv/bin/duckdb -readonly ")]
    return shlex.split(line.split("  #")[0])


def test_readme_open_it_line_works_as_written(published: Path) -> None:
    """After README's setup the venv holds the `duckdb` command (the duckdb-cli package, a 1.x CLI)."""
    command = readme_open_it_command()
    cli = Path(sys.executable).parent / "duckdb"
    assert cli.exists(), f"{cli} is missing: install with `pip install -c constraints.txt -e '.[dev]'`"
    # README runs from the repository root, where data/ is; here data/ is the test's.
    result = subprocess.run(
        [str(cli), *command[1:]], cwd=published.parent.parent, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(published), read_only=True) as connection:
        carriers = [row[0] for row in connection.execute(f"select carrier_code from {MART}").fetchall()]
    assert carriers and all(carrier in result.stdout for carrier in carriers)


def python_blocks(markdown: Path, section: str) -> list[str]:
    """The ```python blocks of one `## section` of a Markdown file, in order."""
    text = markdown.read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_pandas_reads_marts_and_the_lake_as_analysts_md_shows(
    published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = python_blocks(REPO_ROOT / "docs" / "analysts.md", "Python and pandas")
    assert len(blocks) == 2, "docs/analysts.md changed: update this test with it"
    monkeypatch.chdir(published.parent.parent)  # the snippets use data/... relative to the repository root
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/analysts.md", "exec"), namespace)
    by_week, lanes, pages = namespace["by_week"], namespace["lanes"], namespace["pages"]

    with duckdb.connect(str(published), read_only=True) as connection:
        weeks = connection.execute("select * from main.delivery_time_by_week order by week_start").df()
        germany_lanes = connection.execute(
            "select count(*) from main.delivery_time_by_lane where destination_country = 'Germany'"
        ).fetchall()[0][0]
        tracking_ids = {row[0] for row in connection.execute("select tracking_id from raw.trackings").fetchall()}
    assert isinstance(by_week, pd.DataFrame) and not by_week.empty
    pd.testing.assert_frame_equal(by_week, weeks)
    assert len(lanes) == germany_lanes > 0 and set(lanes["destination_country"]) == {"Germany"}
    assert set(pages["tracking_id"]) == tracking_ids
