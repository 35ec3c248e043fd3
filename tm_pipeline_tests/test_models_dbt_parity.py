"""dbt_like_sql/ builds unchanged under dbt-core + dbt-duckdb, into the same tables as the runner.

The folder claims dbt portability; this holds it to that. A real pipeline run fills `raw.*` and
the runner's models; the raw tables are copied into a fresh DuckDB file, dbt builds a copy of the
folder there (from `.venv-dbt`, pinned by .ci/venv-dbt.txt, made by .ci/run), and every model must
equal the runner's row for row. dbt's profile lives in a temp dir and points at that temp file.

Twice: after a full load (both build everything), then after an incremental load that changed
some trackings (tm_pipeline/bench/models_rebuild.py edits raw as such a load would, and
load_changes.py writes the contract tables): dbt and the runner each merge only the changed
trackings into their incremental models, and must still agree row for row.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.bench.load_changes import fingerprint_raw, record_load
from tm_pipeline.bench.models_rebuild import change_trackings
from tm_pipeline.models.data_tests import compile_tests, run_test
from tm_pipeline.models.project import load_project
from tm_pipeline.models.runner import build_all
from tm_pipeline.resources import WarehouseResource
from tm_pipeline_tests.side_venvs import REPO_ROOT, side_venv_bin

SQL_DIR = REPO_ROOT / "dbt_like_sql"
DBT_DATABASE = "dbt_parity"  # dbt-duckdb names relations "<file stem>".<schema>.<name>
# Columns that hold the build's own clock, so two builds never agree on them.
BUILD_TIME_COLUMNS = {"data_as_of": {"built_at"}}
DBT_OUTPUT_DIRS = ("target", "logs")
# The test's two loads come after the pipeline run's own (stamped with the wall clock): a fixed
# date of today would fall before that run's load past noon, and the runner would then rightly
# refuse to merge a load that does not follow the last one it merged.
LOADED_AT_AFTER_THE_RUN = timedelta(hours=1)
CHANGED_BY_SECOND_LOAD = 40


@dataclass(frozen=True)
class DbtBuild:
    project_dir: Path
    database: Path
    runner_database: Path
    returncode: int
    events: list[dict]
    output: str
    first: DbtBuild | None = None  # the build after the full load, when this one followed it
    runner_merged: frozenset[str] = frozenset()  # models the runner merged (not rebuilt) before it


def copy_raw_tables(source: Path, target: Path) -> list[str]:
    """The base tables of `raw` (what dbt's sources read), copied into a DuckDB file (replacing them)."""
    with duckdb.connect() as connection:
        connection.execute(f"attach '{source}' as source (read_only)")
        connection.execute(f"attach '{target}' as {DBT_DATABASE}")
        connection.execute(f"create schema if not exists {DBT_DATABASE}.raw")
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'source' and table_schema = 'raw' and table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        for table in tables:
            connection.execute(f"create or replace table {DBT_DATABASE}.raw.{table} as from source.raw.{table}")
    return tables


def run_dbt(dbt: Path, project_dir: Path, environment: dict[str, str], work_dir: Path) -> tuple[int, list[dict], str]:
    result = subprocess.run(
        [str(dbt), "--log-format", "json", "build", "--project-dir", str(project_dir),
         "--show-all-deprecations", "--no-partial-parse"],
        cwd=work_dir, env=environment, capture_output=True, text=True, timeout=300,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, events, result.stdout + result.stderr


def runner_load_and_build(runner_database: Path, mode: str, loaded_at: datetime) -> frozenset[str]:
    """A load on the runner's warehouse (the second one edits raw as an incremental load would),
    then the runner's build, as a sync does; the models it merged."""
    with duckdb.connect(str(runner_database)) as connection:
        if mode == "incremental":
            fingerprint_raw(connection)
            change_trackings(connection, CHANGED_BY_SECOND_LOAD)
        record_load(connection, mode, loaded_at)
        return frozenset(result.model for result in build_all(connection, load_project(SQL_DIR)) if result.merged)


@pytest.fixture(scope="module")
def dbt_build(finished_run: WarehouseResource, tmp_path_factory: pytest.TempPathFactory) -> DbtBuild:
    """dbt's second build (after the incremental load), with the first one (after the full load)."""
    dbt = side_venv_bin("dbt") / "dbt"
    work_dir = tmp_path_factory.mktemp("dbt_parity")
    runner_database = work_dir / "runner.duckdb"
    shutil.copyfile(finished_run.build_file, runner_database)

    dbt_version = subprocess.run(
        [str(dbt.parent / "python"), "-c", "import duckdb; print(duckdb.__version__)"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()
    assert dbt_version == duckdb.__version__, (
        f".venv-dbt has duckdb {dbt_version}, the product {duckdb.__version__}: pin the same in .ci/venv-dbt.txt "
        "so both builds run on one engine"
    )

    database = work_dir / f"{DBT_DATABASE}.duckdb"
    project_dir = work_dir / "dbt_like_sql"
    # dbt writes target/ and logs/ inside the project folder: here, inside a copy.
    shutil.copytree(SQL_DIR, project_dir, ignore=shutil.ignore_patterns(*DBT_OUTPUT_DIRS, "dbt_packages"))
    profiles_dir = work_dir / "profiles"
    profiles_dir.mkdir()
    (profiles_dir / "profiles.yml").write_text(
        textwrap.dedent(
            f"""
            tm_pipeline:
              target: parity
              outputs:
                parity:
                  type: duckdb
                  path: {json.dumps(str(database))}
                  threads: 1
            """
        )
    )
    environment = {
        **os.environ,
        "DBT_PROFILES_DIR": str(profiles_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",  # no telemetry calls from a test
        "DBT_USE_COLORS": "false",
    }
    builds: list[DbtBuild] = []
    with duckdb.connect(str(runner_database), read_only=True) as connection:
        (run_loaded_at,) = connection.execute("select max(loaded_at) from raw.load_info").fetchall()[0]
    first_loaded_at = run_loaded_at.replace(microsecond=0) + LOADED_AT_AFTER_THE_RUN
    for number, mode in enumerate(("full", "incremental")):
        runner_merged = runner_load_and_build(runner_database, mode, first_loaded_at + timedelta(hours=3 * number))
        assert copy_raw_tables(runner_database, database)
        returncode, events, output = run_dbt(dbt, project_dir, environment, work_dir)
        # each build is compared with the runner's models as they were right after it
        runner_snapshot = work_dir / f"runner_after_{mode}_load.duckdb"
        shutil.copyfile(runner_database, runner_snapshot)
        dbt_snapshot = work_dir / f"dbt_after_{mode}_load.duckdb"
        shutil.copyfile(database, dbt_snapshot)
        builds.append(DbtBuild(project_dir, dbt_snapshot, runner_snapshot, returncode, events, output,
                               first=builds[0] if builds else None, runner_merged=runner_merged))
    return builds[-1]


def messages(build: DbtBuild, levels: tuple[str, ...]) -> list[str]:
    return [f"{e['info']['name']}: {e['info']['msg']}" for e in build.events if e["info"]["level"] in levels]


def both_builds(build: DbtBuild) -> list[DbtBuild]:
    assert build.first is not None
    return [build.first, build]


@pytest.mark.parametrize("which", ["after the full load", "after the incremental load"])
def test_dbt_builds_the_folder_unchanged_and_its_data_tests_agree_with_the_runner(
    dbt_build: DbtBuild, which: str
) -> None:
    """Every model builds and every test passes, except WARN tests that fire: those must warn under
    dbt exactly when they fail in the runner (the stuck-share alert fires on the sandbox's data)."""
    dbt_build = both_builds(dbt_build)[which.endswith("incremental load")]
    assert dbt_build.returncode == 0, "\n".join(messages(dbt_build, ("error",))) or dbt_build.output[-3000:]
    finished = [e for e in dbt_build.events if e["info"]["name"] == "EndOfRunSummary"]
    assert finished, dbt_build.output[-3000:]
    project = load_project(SQL_DIR)
    models, tests = (
        {e["data"]["node_info"]["node_name"]: e["data"]["node_info"]["node_status"]
         for e in dbt_build.events if e["info"]["name"] == event}
        for event in ("LogModelResult", "LogTestResult")
    )
    assert models == dict.fromkeys(project.models, "success")
    assert len(tests) == len(project.generic_tests) + len(project.singular_tests), tests
    with duckdb.connect(str(dbt_build.runner_database), read_only=True) as connection:
        runner_warnings = {
            test.name
            for test in compile_tests(project)
            if test.severity == "warn" and not run_test(connection, test).passed
        }
    assert {name for name, status in tests.items() if status != "pass"} == runner_warnings, tests
    assert {tests[name] for name in runner_warnings} <= {"warn"}, tests


def test_dbt_prints_no_deprecation_warning(dbt_build: DbtBuild) -> None:
    deprecations = [text for text in messages(dbt_build, ("warn", "error")) if "Deprecat" in text]
    assert deprecations == []
    assert dbt_build.events, "no JSON log lines: did dbt run?"


def count(connection: duckdb.DuckDBPyConnection, query: str) -> int:
    return connection.execute(f"select count(*) from ({query})").fetchall()[0][0]


@pytest.mark.parametrize("which", ["after the full load", "after the incremental load"])
def test_every_model_equals_the_runners_row_for_row(dbt_build: DbtBuild, which: str) -> None:
    """Same column names and types, and the same multiset of rows (order-insensitive, exact)."""
    dbt_build = both_builds(dbt_build)[which.endswith("incremental load")]
    with duckdb.connect(str(dbt_build.runner_database), read_only=True) as connection:
        connection.execute(f"attach '{dbt_build.database}' as {DBT_DATABASE} (read_only)")
        for name in load_project(SQL_DIR).models:
            runner_columns = connection.execute(f"describe main.{name}").fetchall()
            dbt_columns = connection.execute(f"describe {DBT_DATABASE}.main.{name}").fetchall()
            assert [c[:2] for c in dbt_columns] == [c[:2] for c in runner_columns], name
            skipped = BUILD_TIME_COLUMNS.get(name, set())
            assert skipped <= {c[0] for c in runner_columns}, f"{name}: {skipped} no longer exist"
            compared = ", ".join(f'"{c[0]}"' for c in runner_columns if c[0] not in skipped)
            runner_rows = f"select {compared} from main.{name}"
            dbt_rows = f"select {compared} from {DBT_DATABASE}.main.{name}"
            assert count(connection, f"{runner_rows} except all {dbt_rows}") == 0, f"{name}: rows only the runner built"
            assert count(connection, f"{dbt_rows} except all {runner_rows}") == 0, f"{name}: rows only dbt built"
            assert count(connection, runner_rows) == count(connection, dbt_rows) > 0, name


def test_the_second_build_merged_the_changed_trackings_in_dbt_and_in_the_runner(dbt_build: DbtBuild) -> None:
    """Witness that the second build was incremental on both sides, so the equality above covers
    the merge: dbt compiled the is_incremental() filters in, and the runner recorded the merge."""
    project = load_project(SQL_DIR)
    incremental = sorted(name for name, model in project.models.items() if model.materialized == "incremental")
    assert len(incremental) >= 3
    for name in incremental:
        (compiled,) = list((dbt_build.project_dir / "target" / "compiled").rglob(f"{name}.sql"))
        # every is_incremental() block reads what the load changed: raw.changed_trackings or load_info's loaded_at
        compiled_sql = compiled.read_text()
        assert "changed_trackings" in compiled_sql or "load_info" in compiled_sql, (
            f"dbt built {name} whole the second time"
        )
    with duckdb.connect(str(dbt_build.runner_database), read_only=True) as connection:
        assert connection.execute("select count(*) from raw.changed_trackings").fetchall() == [
            (CHANGED_BY_SECOND_LOAD,)
        ]
    assert dbt_build.runner_merged == set(incremental)
    assert dbt_build.first is not None and dbt_build.first.runner_merged == set()


def test_runner_reads_the_folder_after_dbt_wrote_into_it(dbt_build: DbtBuild) -> None:
    """dbt's target/ and logs/ hold compiled copies of every model: the runner must not read them."""
    assert all((dbt_build.project_dir / folder).is_dir() for folder in DBT_OUTPUT_DIRS)
    assert list((dbt_build.project_dir / "target").rglob("*.sql")), "dbt compiled nothing into target/"
    after_dbt, original = load_project(dbt_build.project_dir), load_project(SQL_DIR)
    assert sorted(after_dbt.models) == sorted(original.models)
    assert len(after_dbt.generic_tests) == len(original.generic_tests)
    assert [t.name for t in after_dbt.singular_tests] == [t.name for t in original.singular_tests]


def test_git_ignores_what_dbt_writes_into_the_folder(dbt_build: DbtBuild) -> None:
    written = sorted(path.name for path in dbt_build.project_dir.iterdir() if not (SQL_DIR / path.name).exists())
    assert set(DBT_OUTPUT_DIRS) <= set(written)
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for name in [*written, "dbt_packages"]:
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", f"dbt_like_sql/{name}/x"], cwd=REPO_ROOT, timeout=30
        )
        assert ignored.returncode == 0, f"dbt_like_sql/{name}/ is not in .gitignore"
