"""Check results as data: every asset-check outcome is also a row in main.dq_check_results,
so analysts can query data-quality history with SQL next to the marts it describes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb

from tm_pipeline.contracts.warehouse_file import CHECK_RESULTS_TABLE

# A history table of the warehouse file: carried from file to file by the publish (warehouse_file.py).
RESULTS_TABLE = CHECK_RESULTS_TABLE


@dataclass(frozen=True)
class CheckRecord:
    check_name: str
    asset: str
    passed: bool
    severity: str
    value: float | None


def record_check_results(
    connection: duckdb.DuckDBPyConnection, run_id: str, records: list[CheckRecord]
) -> None:
    """Append the records of one check execution; the table is created on first use."""
    connection.execute(
        f"""create table if not exists {RESULTS_TABLE} (
            run_id varchar, check_name varchar, asset varchar, passed boolean, severity varchar,
            value double, checked_at timestamptz)"""
    )
    checked_at = datetime.now(timezone.utc)
    connection.executemany(
        f"insert into {RESULTS_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
        [
            [
                run_id,
                record.check_name,
                record.asset,
                record.passed,
                record.severity,
                record.value,
                checked_at,
            ]
            for record in records
        ],
    )
