"""Helpers for the lake-integrity tests: one real run landed once, copied for each test to damage."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq

from tm_pipeline.extract.assets import LAKE_API_CALLS, LAKE_TRACKINGS
from tm_pipeline.landing.lake import Lake
from tm_pipeline.runs import check_outcomes
from tm_pipeline.schedules import SYNC_SELECTION

# Everything after the extraction: a run that cannot reach the API and so cannot repair anything.
LOAD_ONLY = SYNC_SELECTION - dg.AssetSelection.assets(LAKE_TRACKINGS, LAKE_API_CALLS)


def manifest_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "lake" / "manifests").glob("*.json"))


def page_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "lake" / "trackings").glob("*/*/page-*.parquet"))


def ledger_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "lake" / "api_calls").glob("*/*.parquet"))


def ledger_rows(data_dir: Path) -> list[dict]:
    return [row for path in ledger_files(data_dir) for row in pq.read_table(path).to_pylist()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def tracking_ids(database: Path) -> list[str]:
    return [row[0] for row in query(database, "SELECT tracking_id FROM raw.trackings ORDER BY 1")]


def outcome(result: dg.ExecuteInProcessResult, check: str) -> dict:
    return next(c for c in check_outcomes(result) if c["check"] == check)


def flip_bytes_inside(path: Path, offset: int = 200, count: int = 16) -> None:
    """Damage a file's data pages without touching its footer, so its row count still reads the same."""
    payload = bytearray(path.read_bytes())
    for index in range(offset, offset + count):
        payload[index] ^= 0xFF
    path.write_bytes(bytes(payload))


def downgrade_manifests_to_format_1(lake: Lake) -> None:
    """Rewrite every manifest as the code before checksums wrote it: no checksums, no ledger parts."""
    for path in sorted((lake.root / "manifests").glob("*.json")):
        document = json.loads(path.read_text())
        for added in ("checksums", "call_parts", "supersedes", "replaced_by", "lost", "rebuilt", "format"):
            document.pop(added, None)
        path.write_text(json.dumps(document, indent=2))
