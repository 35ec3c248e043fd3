"""Time model builds on realistic volumes (e.g. 1M trackings): a full rebuild of every model, and an
incremental run after a load that changed a few thousand trackings, with per-model times."""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from tm_pipeline.bench.load_changes import fingerprint_raw, record_load
from tm_pipeline.contracts.warehouse_file import utc_now
from tm_pipeline.models.data_tests import compile_tests, run_test, run_tests
from tm_pipeline.models.graph import build_order
from tm_pipeline.models.project import load_project
from tm_pipeline.models.runner import build_all, build_model

DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
SLOWEST_SHOWN = 5


def rebuild_seconds(database_path: str | Path, sql_dir: Path = DEFAULT_SQL_DIR) -> float:
    """Wall-clock seconds to build all models in dependency order on an existing raw schema."""
    project = load_project(sql_dir)
    with duckdb.connect(str(database_path)) as connection:
        started = time.perf_counter()
        build_all(connection, project)
        return time.perf_counter() - started


def change_trackings(connection: duckdb.DuckDBPyConnection, changed: int) -> None:
    """Edit raw.* as a load bringing `changed` trackings would: a quarter new (copies of existing
    ones under new ids), the rest updated with one more checkpoint, half of them now delivered (they
    move between the marts' groups), all refreshed an hour after the newest update so far."""
    new, updated = changed // 4, changed - changed // 4
    connection.execute(
        "create or replace temp table bench_picked as select tracking_id, row_number() over () as n "
        "from (select tracking_id from raw.trackings order by hash(tracking_id) limit ?)",
        [updated + new],
    )
    refreshed_at = "(select max(updated_at) + interval 1 hour from raw.trackings)"
    connection.execute(
        f"insert into raw.trackings select * replace ('new-' || tracking_id as tracking_id, "
        f"{refreshed_at} as updated_at) from raw.trackings "
        f"where tracking_id in (select tracking_id from bench_picked where n > {updated})"
    )
    connection.execute(
        "insert into raw.checkpoints select * replace ('new-' || tracking_id as tracking_id) from raw.checkpoints "
        f"where tracking_id in (select tracking_id from bench_picked where n > {updated})"
    )
    connection.execute(
        f"update raw.trackings set updated_at = {refreshed_at}, "
        f"status = case when hash(tracking_id) % 2 = 0 then 'delivered' else 'exception' end "
        f"where tracking_id in (select tracking_id from bench_picked where n <= {updated})"
    )
    connection.execute(
        "insert into raw.checkpoints by name select account, tracking_id, 'destination' as leg, 10000 as position, "
        "'2024-06-01 08:00:00' as checkpoint_date, status as checkpoint_status, 'event' as status_description, "
        "'' as details from raw.trackings "
        f"where tracking_id in (select tracking_id from bench_picked where n <= {updated})"
    )


def _timed_builds(connection: duckdb.DuckDBPyConnection, sql_dir: Path) -> tuple[float, dict[str, float], int]:
    project = load_project(sql_dir)
    seconds: dict[str, float] = {}
    merged = 0
    for name in build_order(project.models, project.sources):
        started = time.perf_counter()
        merged += build_model(connection, project.models[name]).merged
        seconds[name] = time.perf_counter() - started
    return sum(seconds.values()), seconds, merged


def _slowest(seconds: dict[str, float]) -> dict[str, float]:
    return dict(sorted(seconds.items(), key=lambda item: -item[1])[:SLOWEST_SHOWN])


def _tests_seconds(
    connection: duckdb.DuckDBPyConnection, sql_dir: Path, incremental: bool
) -> tuple[float, dict[str, float], int]:
    """Seconds of every data test, as the checks run them (incremental) or all whole; and how
    many ran over the changed trackings' rows only."""
    seconds = {}
    changed_rows_only = 0
    started_all = time.perf_counter()
    for test in compile_tests(load_project(sql_dir)):
        started = time.perf_counter()
        changed_rows_only += run_test(connection, test).changed_rows_only
        seconds[test.name] = time.perf_counter() - started
    if incremental:  # as the checks run them, the bookkeeping included (the per-test times above are whole)
        started_all = time.perf_counter()
        outcomes = run_tests(connection, compile_tests(load_project(sql_dir)), incremental=True)
        changed_rows_only = sum(outcome.changed_rows_only for outcome in outcomes)
    return time.perf_counter() - started_all, seconds, changed_rows_only


def incremental_figures(database_path: Path, changed: int = 2000, sql_dir: Path = DEFAULT_SQL_DIR) -> dict[str, Any]:
    """On a copy of a loaded warehouse: a full build (after a full load), then a load changing
    `changed` trackings and the incremental build after it, then the same state rebuilt whole;
    each with per-model seconds for the slowest; and the data tests after the incremental load,
    as the checks run them and all whole."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(database_path, copy)
        with duckdb.connect(str(copy)) as connection:
            connection.execute("set enable_progress_bar = false")  # the bench prints JSON, not bars
            trackings = connection.execute("select count(*) from raw.trackings").fetchall()[0][0]
            # after any load the warehouse has had (a model merges only after the load it last followed)
            loaded_at = utc_now()
            record_load(connection, "full", loaded_at)
            _timed_builds(connection, sql_dir)
            _tests_seconds(connection, sql_dir, incremental=True)  # the checks after the full load
            fingerprint_raw(connection)
            change_trackings(connection, changed)
            changed_count = record_load(connection, "incremental", loaded_at + timedelta(hours=3))
            incremental_s, incremental_models, merged = _timed_builds(connection, sql_dir)
            tests_s, tests, restricted = _tests_seconds(connection, sql_dir, incremental=True)
            whole_tests_s, _, _ = _tests_seconds(connection, sql_dir, incremental=False)
            record_load(connection, "full", loaded_at + timedelta(hours=6))
            full_s, full_models, _ = _timed_builds(connection, sql_dir)
    return {
        "trackings": trackings,
        "changed_trackings": changed_count,
        "incremental_models_merged": merged,
        "incremental_build_s": incremental_s,
        "incremental_slowest_models_s": _slowest(incremental_models),
        "full_rebuild_s": full_s,
        "full_rebuild_slowest_models_s": _slowest(full_models),
        "data_tests_after_incremental_load_s": tests_s,
        "data_tests_over_changed_rows_only": restricted,
        "data_tests_slowest_whole_s": _slowest(tests),
        "data_tests_all_whole_s": whole_tests_s,
    }
