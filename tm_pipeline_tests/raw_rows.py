"""Hand-built raw tables for tests of the models: the raw contract of docs/architecture.md as DDL,
plus row builders whose defaults are valid so a test states only what it is about."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import duckdb

from tm_pipeline.load.raw_tables import (
    CHECKPOINTS_SCHEMA,
    RAW_API_CALLS_SCHEMA,
    RAW_TRACKINGS_SCHEMA,
    status_codes_table,
)

FETCHED_AT = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def create_raw_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Empty raw tables typed exactly as the load step writes them (status codes filled in)."""
    connection.execute("create schema if not exists raw")
    for table, schema in (
        ("trackings", RAW_TRACKINGS_SCHEMA), ("api_calls", RAW_API_CALLS_SCHEMA), ("checkpoints", CHECKPOINTS_SCHEMA)
    ):
        connection.register(f"empty_{table}", schema.empty_table())
        connection.execute(f"create or replace table raw.{table} as select * from empty_{table}")
    connection.register("seed_status_codes", status_codes_table())
    connection.execute("create or replace table raw.status_codes as select * from seed_status_codes")


def insert_rows(connection: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dicts into raw.<table> by column name; columns a row leaves out are NULL."""
    for row in rows:
        names = ", ".join(row)
        placeholders = ", ".join("?" for _ in row)
        connection.execute(f"insert into raw.{table} ({names}) values ({placeholders})", list(row.values()))


def tracking_row(tracking_id: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "account": "default",
        "tracking_id": tracking_id,
        "tracking_number": f"TN{tracking_id}",
        "carrier_code": "china-ems",
        "status": "transit",
        "original_country": "China",
        "destination_country": "United States",
        "created_at": FETCHED_AT,
        "archived": False,
        "extraction_id": "extraction-1",
        "page": 1,
        "fetched_at": FETCHED_AT,
    }
    return {**row, **overrides}


def checkpoint_row(
    tracking_id: str, date: str, status: str, leg: str = "origin", position: int = 0
) -> dict[str, Any]:
    return {
        "account": "default",
        "tracking_id": tracking_id,
        "leg": leg,
        "position": position,
        "checkpoint_date": date,
        "checkpoint_status": status,
        "status_description": "event",
        "details": "",
    }


def api_call_row(call_seq: int, meta_code: int | None = 200, **overrides: Any) -> dict[str, Any]:
    row = {
        "account": "default",
        "run_id": "run-1",
        "extraction_id": "extraction-1",
        "window_key": "full",
        "call_seq": call_seq,
        "requested_at": FETCHED_AT,
        "endpoint": "/trackings/get",
        "page": call_seq,
        "params_json": "{}",
        "http_status": 200,
        "meta_code": meta_code,
        "meta_type": "Success",
        "meta_message": "",
        "attempt": 1,
        "wait_before_s": 0.0,
        "latency_ms": 100.0,
        "response_bytes": 1000,
        "rows": 0,
        "total_reported": None,
    }
    return {**row, **overrides}
