"""TM_DUCKDB_MEMORY_LIMIT is a step's memory budget: DuckDB's buffer manager gets a share of it, because
the process holds more than DuckDB counts (at 10M trackings a 4GB DuckDB limit peaked at 4.5 GB)."""

from __future__ import annotations

import pytest

from tm_pipeline import settings
from tm_pipeline.api.errors import ConfigurationError
from tm_pipeline.contracts.warehouse_file import DUCKDB_SHARE, DuckDBLimits, budget_bytes, connect_build


def test_duckdb_is_held_to_its_share_of_the_budget_on_a_real_connection(tmp_path):
    limits = DuckDBLimits("2GB", str(tmp_path / "spill"))
    with connect_build(tmp_path / "w.duckdb", limits=limits) as connection:
        (setting,) = connection.execute("select current_setting('memory_limit')").fetchone()
    # DuckDB reports its limit in MiB or GiB; 0.7 x 2 GB = 1,400 MB = 1.3 GiB
    number, unit = setting.split()
    held = float(number) * {"MiB": 2**20, "GiB": 2**30}[unit]
    assert held == pytest.approx(2 * 10**9 * DUCKDB_SHARE, rel=0.01)
    assert held < 2 * 10**9


@pytest.mark.parametrize(("amount", "expected"), [("4GB", 4 * 10**9), ("512MB", 512 * 10**6), ("1.5GiB", 3 * 2**29)])
def test_budgets_are_read_in_duckdbs_units(amount, expected):
    assert budget_bytes(amount) == expected


@pytest.mark.parametrize("amount", ["4", "lots", "4 GB RAM", ""])
def test_a_budget_without_a_unit_is_a_configuration_error_naming_the_variable(monkeypatch, amount):
    monkeypatch.setenv("TM_DUCKDB_MEMORY_LIMIT", amount)
    with pytest.raises(ConfigurationError, match="TM_DUCKDB_MEMORY_LIMIT.*like 4GB"):
        settings.duckdb_memory_limit()
