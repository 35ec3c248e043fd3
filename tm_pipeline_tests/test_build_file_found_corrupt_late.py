"""Damage the load never reads is found by the step that reads it, and the next run rebuilds the file.

The load no longer reads every stored row (that cost grows with the warehouse), so a damaged block
in a table only the models read surfaces in the models' connection. Where a real damaged block lies
in the file cannot be aimed at reliably, so the error DuckDB raises for one is raised here by hand
(the only stand-in in this file); the file, the move and the rebuild are real.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from tm_pipeline.bench.synthetic_lake import land_extraction, sandbox_items
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.build_file import build_rebuilding_if_corrupt
from tm_pipeline.load.warehouse_load import load_warehouse
from tm_pipeline.resources import WarehouseResource

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def test_a_step_that_meets_a_corrupt_block_moves_the_build_file_aside_and_the_next_load_rebuilds(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "lake")
    land_extraction(lake, "20260301T000000Z-a", list(sandbox_items(30, seed=2, at=T0)), T0)
    warehouse = WarehouseResource(database_path=str(tmp_path / "build" / "warehouse.duckdb"))
    build_rebuilding_if_corrupt(warehouse.build_file, lambda connection: load_warehouse(connection, lake))

    with pytest.raises(RuntimeError, match="is corrupt .* moved it to .*Run again"):
        with warehouse.connect():
            raise duckdb.IOException("Corrupt database file: computed checksum 1 does not match stored checksum 2")

    (aside,) = warehouse.build_file.parent.glob("warehouse.duckdb.corrupt-*")
    assert not warehouse.build_file.exists()
    summary = build_rebuilding_if_corrupt(warehouse.build_file, lambda connection: load_warehouse(connection, lake))
    assert summary.mode == "full" and summary.trackings == 30
    assert aside.exists(), "the damaged file is kept for a person to look at"
