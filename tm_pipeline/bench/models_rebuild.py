"""Time a rebuild of every model, to size the models layer on realistic volumes (e.g. 1M trackings)."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from tm_pipeline.models.project import load_project
from tm_pipeline.models.runner import build_all

DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"


def rebuild_seconds(database_path: str | Path, sql_dir: Path = DEFAULT_SQL_DIR) -> float:
    """Wall-clock seconds to build all models in dependency order on an existing raw schema."""
    project = load_project(sql_dir)
    with duckdb.connect(str(database_path)) as connection:
        started = time.perf_counter()
        build_all(connection, project)
        return time.perf_counter() - started
