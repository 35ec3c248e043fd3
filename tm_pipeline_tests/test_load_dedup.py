"""The load keeps one row per tracking: the greatest (updated_at nulls first, fetched_at, page).

Real Parquet pages at their lake paths, loaded into a real DuckDB file by load_raw_tables. Each
tracking is landed in several pages that differ in exactly the column the rule must decide on;
order_id marks which landing won, so a wrong tie-break names the tracking it got wrong.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA
from tm_pipeline.landing.integrity import LakeAudit
from tm_pipeline.landing.lake import Lake
from tm_pipeline.load.accounts import AccountLake
from tm_pipeline.load.raw_tables import load_raw_tables

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(hours=1)

# tracking -> landings as (extraction, page, updated_at, fetched_at, marker); the expected winner's marker is "win".
CASES: dict[str, list[tuple[str, int, datetime | None, datetime, str]]] = {
    # A refreshed tracking beats a never-refreshed copy even when that copy arrived later, on a later page.
    "updated-beats-null": [("e1", 1, T0, T0, "win"), ("e2", 2, None, LATER, "lose")],
    # The newer server update wins over the later fetch.
    "newer-update-beats-later-fetch": [("e1", 1, LATER, T0, "win"), ("e2", 1, T0, LATER, "lose")],
    # Same update: the later fetch wins, even from an earlier page.
    "equal-update-later-fetch": [("e1", 2, T0, T0, "lose"), ("e2", 1, T0, LATER, "win")],
    # Same update, same fetch (one page of data moving while paged): the later page wins.
    "equal-update-and-fetch-later-page": [("e1", 1, T0, T0, "lose"), ("e1", 2, T0, T0, "win")],
    # Never refreshed anywhere: the later fetch wins.
    "both-null-later-fetch": [("e1", 2, None, T0, "lose"), ("e2", 1, None, LATER, "win")],
}


def _row(tracking_id: str, extraction: str, page: int, updated: datetime | None, fetched: datetime,
         marker: str) -> dict:
    return {
        "tracking_id": tracking_id, "tracking_number": tracking_id, "carrier_code": "ups", "status": "transit",
        "substatus": None, "original_country": "DE", "destination_country": "FR", "created_at": T0,
        "updated_at": updated, "archived": False, "order_id": marker,
        "raw_json": json.dumps({"id": tracking_id, "marker": marker}),
        "extraction_id": extraction, "page": page, "fetched_at": fetched,
    }


def _land(lake: Lake, marker_prefix: str = "") -> list[Path]:
    """One Parquet file per (extraction, page), at the path the lake gives pages; markers prefixed."""
    pages: dict[tuple[str, int], list[dict]] = {}
    for tracking_id, landings in CASES.items():
        for extraction, page, updated, fetched, marker in landings:
            pages.setdefault((extraction, page), []).append(_row(tracking_id, extraction, page, updated, fetched,
                                                                 marker_prefix + marker))
    files = []
    for (extraction, page), rows in sorted(pages.items()):
        path = lake.root / "trackings" / "window=full" / f"extraction={extraction}" / f"page-{page:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=TRACKINGS_SCHEMA), path)
        files.append(path)
    return files


def test_each_tie_break_picks_the_documented_winner(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    files = _land(lake)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        summary = load_raw_tables(connection, lake, LakeAudit(trackings_files=files))
        winners = dict(connection.execute("SELECT tracking_id, order_id FROM raw.trackings").fetchall())
        json_markers = {
            tracking_id: json.loads(raw_json)["marker"]
            for tracking_id, raw_json in connection.execute("SELECT tracking_id, raw_json FROM raw.tracking_json")
            .fetchall()
        }
    assert summary.rows_landed == sum(len(landings) for landings in CASES.values())
    assert summary.trackings == len(CASES)
    assert winners == {tracking_id: "win" for tracking_id in CASES}
    # The JSON served with a tracking is the winning landing's, not another copy's.
    assert json_markers == {tracking_id: "win" for tracking_id in CASES}


def test_the_same_tracking_id_in_two_accounts_is_two_trackings_each_with_its_own_winner(tmp_path: Path) -> None:
    """Tracking ids are an account's own: the dedup is per (account, tracking_id), and each
    account's JSON and winner come from its own lake only (the second lake lands the same ids)."""
    brand_a, brand_b = Lake(tmp_path / "lake" / "account=brand_a"), Lake(tmp_path / "lake" / "account=brand_b")
    accounts = [
        AccountLake("brand_a", brand_a, LakeAudit(trackings_files=_land(brand_a, "a-"))),
        AccountLake("brand_b", brand_b, LakeAudit(trackings_files=_land(brand_b, "b-"))),
    ]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        summary = load_raw_tables(connection, brand_a, accounts=accounts)
        winners = connection.execute("SELECT account, tracking_id, order_id FROM raw.trackings").fetchall()
        json_markers = {
            (account, tracking_id): json.loads(raw_json)["marker"]
            for account, tracking_id, raw_json in connection.execute(
                "SELECT account, tracking_id, raw_json FROM raw.tracking_json"
            ).fetchall()
        }
    expected = {
        (account, tracking_id): f"{account[-1]}-win" for account in ("brand_a", "brand_b") for tracking_id in CASES
    }
    assert summary.trackings == 2 * len(CASES)
    assert {(account, tracking_id): marker for account, tracking_id, marker in winners} == expected
    assert json_markers == expected
