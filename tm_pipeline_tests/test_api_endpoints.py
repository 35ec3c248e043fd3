"""The endpoint seam as plain functions: choosing the version, rendering v4's query, reading v4
items into the landing columns, and judging v4 codes in SQL by v4's table (no server needed)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb
import msgspec
import pytest

from tm_pipeline.api.endpoints import LIST_ENDPOINTS, endpoint_for, version_of
from tm_pipeline.api.endpoints.v2 import V2_LIST
from tm_pipeline.api.endpoints.v4 import V4_ITEM_FIELDS, V4_LIST, render_v4_query
from tm_pipeline.api.errors import ConfigurationError
from tm_pipeline.contracts.outcomes import OUTCOMES
from tm_pipeline.extract.page_table import items_to_table
from tm_pipeline.models.project import load_project
from tm_pipeline.models.runner import build_model
from tm_pipeline.resources import TrackingMoreResource
from tm_pipeline_tests.raw_rows import api_call_row, create_raw_tables, insert_rows

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"
FETCHED_AT = datetime(2024, 6, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("base_url", "configured", "expected"),
    [
        ("https://api.trackingmore.com/v2", "", "v2"),
        ("https://api.trackingmore.com/v4", "", "v4"),
        ("https://api.trackingmore.com/v4/", "", "v4"),
        ("https://proxy.example/trackingmore", "", "v2"),
        ("https://proxy.example/trackingmore", "V4", "v4"),
        ("https://api.trackingmore.com/v4", "v4", "v4"),
    ],
)
def test_the_version_follows_the_setting_else_the_url_else_v2(base_url: str, configured: str, expected: str) -> None:
    assert version_of(base_url, configured) == expected


def test_a_version_that_contradicts_the_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="API_VERSION is v4 but TRACKINGMORE_BASE_URL ends in /v2"):
        version_of("https://api.trackingmore.com/v2", "v4")
    with pytest.raises(ConfigurationError, match="must be one of v2, v4, got 'v3'"):
        endpoint_for("v3")


def test_v4_list_rate_defaults_to_10_per_second_unless_set() -> None:
    v4 = TrackingMoreResource(base_url="http://127.0.0.1:1/v4", api_key="k")
    assert v4.endpoint() is V4_LIST and v4.pacer().interval_s == pytest.approx(0.1)
    assert TrackingMoreResource(base_url="http://127.0.0.1:1/v2", api_key="k").pacer().interval_s == 1.0
    set_rate = TrackingMoreResource(base_url="http://127.0.0.1:1/v4", api_key="k", list_rate_per_s=4.0)
    assert set_rate.pacer().interval_s == 0.25


def test_v4_query_renders_instants_as_iso_8601_and_v4_names() -> None:
    abstract = {"limit": 100, "page": 3, "created_at_max": 1717200000, "update_time_min": 1717113600, "lang": "en"}
    assert render_v4_query(abstract) == {
        "items_amount": 100,
        "pages_amount": 3,
        "created_date_max": "2024-06-01T00:00:00+00:00",
        "updated_date_min": "2024-05-31T00:00:00+00:00",
        "lang": "en",
    }
    assert V2_LIST.render_query(abstract) == abstract, "v2's names are the abstract ones"


def test_v4_items_land_in_the_same_columns_with_the_original_json() -> None:
    items = [
        {"id": "a" * 32, "tracking_number": "LP1", "courier_code": "china-post", "delivery_status": "transit",
         "substatus": "transit001", "origin_country": "CN", "destination_country": "US",
         "created_at": "2024-05-01T10:00:00+08:00", "update_at": "2024-05-02T10:00:00+08:00",
         "archived": "tracking", "order_id": "#1"},
        {"id": "b" * 32, "courier_code": "ups", "created_at": "2024-05-01T10:00:00+00:00", "update_at": None,
         "archived": "true"},
    ]
    raw = [msgspec.Raw(msgspec.json.encode(item)) for item in items]
    table = items_to_table(raw, "x", 1, FETCHED_AT, V4_ITEM_FIELDS).trackings.to_pylist()
    assert [row["carrier_code"] for row in table] == ["china-post", "ups"]
    assert [row["status"] for row in table] == ["transit", None]
    assert [row["original_country"] for row in table] == ["CN", None]
    assert table[0]["updated_at"] == datetime(2024, 5, 2, 2, tzinfo=timezone.utc) and table[1]["updated_at"] is None
    assert [row["archived"] for row in table] == [False, True]
    assert [msgspec.json.decode(row["raw_json"]) for row in table] == items


def test_a_v4_item_with_a_bad_update_at_is_quarantined_naming_v4s_key() -> None:
    raw = [msgspec.Raw(b'{"id":"c","created_at":"2024-05-01T10:00:00+00:00","update_at":1714557600}')]
    quarantine = items_to_table(raw, "x", 1, FETCHED_AT, V4_ITEM_FIELDS).quarantine.to_pylist()
    assert [(row["field"], row["reason"]) for row in quarantine] == [("update_at", "wrong_type")]


def test_every_versions_categories_are_outcome_words() -> None:
    for endpoint in LIST_ENDPOINTS.values():
        assert {status.category.value for status in endpoint.code_table.values()} <= OUTCOMES


@pytest.mark.parametrize(
    ("api_version", "meta_code", "outcome"),
    [("v4", 4190, "billing"), ("v4", 4121, "detection"), ("v4", 401, "auth"), ("v4", 512, "transient"),
     ("v4", 4031, "request_error"), ("v2", 4031, "empty"), ("v2", 4190, "request_error"), (None, 4019, "billing")],
)
def test_stg_api_calls_judges_a_code_by_its_versions_table(
    tmp_path: Path, api_version: str | None, meta_code: int, outcome: str
) -> None:
    """4031 is v2's "nothing to return" but no v4 code; 4190 is v4's quota. A ledger row without a
    version (written before it was recorded) is v2."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        create_raw_tables(connection)
        insert_rows(connection, "api_calls", [{**api_call_row(1, meta_code=meta_code), "api_version": api_version}])
        build_model(connection, load_project(SQL_DIR).models["stg_api_calls"])
        judged = connection.execute("select api_version, outcome from main.stg_api_calls").fetchall()
    assert judged == [(api_version or "v2", outcome)]


def test_completeness_is_not_judged_for_a_version_without_a_total(tmp_path: Path) -> None:
    """v4 reports no total: its runs pass api_completeness with a note instead of a WARN every
    run; a v2 run without a total still warns."""
    from tm_pipeline.checks.api_ledger import judge_completeness, read_latest_run

    for api_version, passed in (("v4", True), ("v2", False)):
        with duckdb.connect(str(tmp_path / f"{api_version}.duckdb")) as connection:
            create_raw_tables(connection)
            row = {**api_call_row(1), "api_version": api_version, "total_reported": None}
            insert_rows(connection, "api_calls", [row])
            build_model(connection, load_project(SQL_DIR).models["stg_api_calls"])
            verdict = judge_completeness(read_latest_run(connection))
        assert (api_version, verdict.passed) == (api_version, passed)


def test_a_lake_written_before_api_version_loads_as_v2(tmp_path: Path) -> None:
    """Ledger parts from before the seam have no api_version column. A lake holding only such parts
    (here: a real v2 extraction whose parts are rewritten without it, manifests updated) must load,
    and its calls are judged as v2."""
    import hashlib

    import pyarrow.parquet as pq

    from tm_pipeline.extract.fetch import PageFetcher
    from tm_pipeline.extract.run import extract_window
    from tm_pipeline.extract.windows import full_window
    from tm_pipeline.landing.lake import Lake
    from tm_pipeline.load.raw_tables import load_raw_tables
    from tm_pipeline.sandbox import SandboxConfig, SandboxServer

    lake = Lake(tmp_path / "lake")
    config = SandboxConfig(trackings=30, api_keys=("old-lake",), list_rate_per_s=None)
    with SandboxServer(config).running() as server:
        resource = TrackingMoreResource(base_url=server.base_url, api_key="old-lake", list_rate_per_s=0)
        client = resource.client()
        try:
            extract_window(PageFetcher(client, resource.pacer(), endpoint=resource.endpoint()), lake, full_window())
        finally:
            client.close()
    for manifest in lake.manifests():
        for name in manifest.call_parts:
            path = lake.root / "api_calls" / f"extraction={manifest.extraction_id}" / name
            old_part = pq.read_table(path).drop_columns(["api_version"])
            pq.write_table(old_part, path)
            manifest.call_parts[name]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        lake.save_manifest(manifest)

    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        load_raw_tables(connection, lake)
        build_model(connection, load_project(SQL_DIR).models["stg_api_calls"])
        judged = connection.execute("select distinct api_version, outcome from main.stg_api_calls").fetchall()
    assert judged == [("v2", "ok")]
