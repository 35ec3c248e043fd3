"""Hand-built raw tables for tests of the models: the raw contract of docs/architecture.md as DDL,
plus row builders whose defaults are valid so a test states only what it is about."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import duckdb

RAW_DDL = {
    "trackings": """
        tracking_id varchar, tracking_number varchar, carrier_code varchar, status varchar,
        substatus varchar, original_country varchar, destination_country varchar,
        created_at timestamptz, updated_at timestamptz, archived boolean, order_id varchar,
        raw_json varchar, run_id varchar, page integer, fetched_at timestamptz""",
    "checkpoints": """
        tracking_id varchar, leg varchar, position integer, checkpoint_date varchar,
        checkpoint_status varchar, substatus varchar, status_description varchar, details varchar,
        item_node varchar""",
    "api_calls": """
        run_id varchar, call_seq integer, requested_at timestamptz, endpoint varchar, page integer,
        params_json varchar, http_status integer, meta_code integer, meta_type varchar,
        meta_message varchar, attempt integer, wait_before_s double, latency_ms double,
        response_bytes bigint, rows integer, total_reported integer""",
}

FETCHED_AT = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def create_raw_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Empty raw.trackings, raw.checkpoints and raw.api_calls, typed as the load step writes them."""
    connection.execute("create schema if not exists raw")
    for table, columns in RAW_DDL.items():
        connection.execute(f"create or replace table raw.{table} ({columns})")


def insert_rows(connection: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dicts into raw.<table> by column name; columns a row leaves out are NULL."""
    for row in rows:
        names = ", ".join(row)
        placeholders = ", ".join("?" for _ in row)
        connection.execute(f"insert into raw.{table} ({names}) values ({placeholders})", list(row.values()))


def tracking_row(tracking_id: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "tracking_id": tracking_id,
        "tracking_number": f"TN{tracking_id}",
        "carrier_code": "china-ems",
        "status": "transit",
        "original_country": "China",
        "destination_country": "United States",
        "created_at": FETCHED_AT,
        "archived": False,
        "raw_json": "{}",
        "run_id": "run-1",
        "page": 1,
        "fetched_at": FETCHED_AT,
    }
    return {**row, **overrides}


def checkpoint_row(
    tracking_id: str, date: str, status: str, leg: str = "origin", position: int = 0
) -> dict[str, Any]:
    return {
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
        "run_id": "run-1",
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
