"""The same sandbox shipments extracted once through v2 and once through v4 build the same marts.

One real sandbox serves both versions from one store over HTTP; each version gets its own data
directory, a full Dagster run (extract, load, models, checks, publish) and its own published
warehouse. Every mart but the API's own health (which describes the calls, not the shipments)
must be equal row for row, and equal to the sandbox's ground truth where it has one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pytest import approx

from tm_pipeline.bench.truth_compare import MART_GROUPS, mart_mismatches, truth_parameters
from tm_pipeline.definitions import SQL_DIR, default_resources
from tm_pipeline.runs import check_outcomes, materialize_all
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "v4-equality-key"
TRACKINGS = 2500  # v2: two pages of 2000; v4: 25 pages of 100 and an empty one
V2_RATE_PER_S = 20.0  # faster than the real 1/s so the v2 side stays short; v4 keeps its 10/s
# Marts about the API calls, which differ by version by design (paths, page counts, latencies).
API_MARTS = {"api_health_daily"}
MARTS = sorted(path.stem for path in (SQL_DIR / "marts").glob("*.sql") if path.stem not in API_MARTS)
# Columns of our own clock (when pages were fetched, when the model was built), not of the data.
OWN_CLOCK_COLUMNS = {"data_as_of": ("data_as_of", "built_at")}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(trackings=TRACKINGS, seed=31, api_keys=(KEY,), list_rate_per_s=V2_RATE_PER_S)
    with SandboxServer(config).running() as running:
        yield running


def _run(base_url: str, data_dir: Path, **api_settings: object) -> Path:
    result = materialize_all(default_resources(data_dir, base_url=base_url, api_key=KEY, **api_settings), data_dir)
    failed = [c for c in check_outcomes(result) if not c["passed"] and c["severity"] == "ERROR"]
    assert result.success and not failed, failed
    return data_dir / "warehouse.duckdb"


@pytest.fixture(scope="module")
def warehouses(server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("v2_v4")
    return {
        "v2": _run(server.base_url, root / "v2", list_rate_per_s=V2_RATE_PER_S),
        "v4": _run(server.base_url_v4, root / "v4"),  # the version follows the URL; 10/s is v4's default
    }


def _approx(row: tuple) -> tuple:
    return tuple(approx(value, rel=1e-12) if isinstance(value, float) else value for value in row)


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return sorted(connection.execute(sql).fetchall(), key=repr)


def test_each_run_spoke_its_own_version(warehouses: dict[str, Path], server: SandboxServer) -> None:
    served = server.stats()["by_endpoint_code"]
    assert served["/v2/trackings/get"] == {"200": 2}
    assert served["/v4/trackings/get"] == {"200": TRACKINGS // 100 + 1}
    for version, warehouse in warehouses.items():
        calls = _rows(warehouse, "SELECT DISTINCT api_version, meta_type IS NULL, outcome FROM main.stg_api_calls")
        assert calls == [(version, version == "v4", "ok")]


@pytest.mark.parametrize("mart", MARTS)
def test_mart_is_the_same_through_v2_and_v4(warehouses: dict[str, Path], mart: str) -> None:
    excluded = OWN_CLOCK_COLUMNS.get(mart)
    sql = f"SELECT * EXCLUDE ({', '.join(excluded)}) FROM main.{mart}" if excluded else f"SELECT * FROM main.{mart}"
    v2_rows = _rows(warehouses["v2"], sql)
    assert v2_rows, f"{mart} has no rows, so equality would prove nothing"
    v4_rows = _rows(warehouses["v4"], sql)
    # Averages may differ in the last bits: the rows reach DuckDB's parallel sums in another order.
    assert [_approx(row) for row in v4_rows] == [_approx(row) for row in v2_rows]


@pytest.mark.parametrize("mart", sorted(MART_GROUPS))
def test_v4_mart_equals_the_sandbox_ground_truth(warehouses: dict[str, Path], server: SandboxServer, mart: str) -> None:
    truth = server.expected_metrics(**truth_parameters(SQL_DIR))
    with duckdb.connect(str(warehouses["v4"]), read_only=True) as connection:
        assert mart_mismatches(connection, mart, truth[mart]) == []


def test_raw_trackings_are_the_same_through_v2_and_v4(warehouses: dict[str, Path]) -> None:
    """The typed columns hold the same facts whichever version's keys they were read from (status
    compared in lower case: v2 sometimes capitalises it, which stg_trackings normalises)."""
    typed = ", ".join(
        ("tracking_id", "tracking_number", "carrier_code", "lower(status)", "substatus", "original_country",
         "destination_country", "created_at", "updated_at", "archived", "order_id")
    )
    sql = f"SELECT {typed} FROM raw.trackings"
    assert _rows(warehouses["v4"], sql) == _rows(warehouses["v2"], sql)


def test_v4_keeps_each_items_original_json(warehouses: dict[str, Path], server: SandboxServer) -> None:
    """raw_json is v4's object as sent (its own keys), not a translation into v2's."""
    keys = _rows(
        warehouses["v4"],
        "SELECT DISTINCT json_keys(raw_json::JSON) @> ['update_at', 'courier_code', 'delivery_status'], "
        "json_keys(raw_json::JSON) @> ['updated_at'] FROM raw.tracking_json",
    )
    assert keys == [(True, False)]
