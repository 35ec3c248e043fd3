"""Registration end to end: a shipments CSV → created in the sandbox → extracted → loaded → in the marts.

Real Dagster runs against a real sandbox over HTTP; the sandbox's own request counters prove what
was sent, not the pipeline's bookkeeping. The module shares one sandbox and one data directory:
the first run registers, the second is a full sync that must register nothing new.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tm_pipeline.bench.truth_compare import MART_GROUPS, mart_mismatches, truth_parameters
from tm_pipeline.definitions import SQL_DIR, default_resources
from tm_pipeline.load.registration_assets import RAW_REGISTRATIONS
from tm_pipeline.register.assets import LAKE_REGISTRATIONS
from tm_pipeline.runs import check_outcomes, materialize_all
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "register-e2e-key"
REGISTRATION_ONLY = dg.AssetSelection.assets(LAKE_REGISTRATIONS, RAW_REGISTRATIONS)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """Its own sandbox: created trackings change the ground truth other modules compare with."""
    with SandboxServer(SandboxConfig(trackings=300, seed=11, api_keys=(KEY,))).running() as server:
        yield server


def _rows(sandbox: SandboxServer) -> list[dict[str, str]]:
    existing = sandbox.truth_trackings()[0]
    return [
        {"tracking_number": "1Z999AA10123456784", "carrier_code": "ups", "order_id": "#1001", "title": "mug"},
        {"tracking_number": "LK123456785CN", "carrier_code": "", "order_id": "#1002", "title": ""},  # detected
        {"tracking_number": "  ", "carrier_code": "ups", "order_id": "#1003", "title": ""},  # blank number
        {"tracking_number": "1Z999AA10123456785", "carrier_code": "UPS!", "order_id": "#1004", "title": ""},
        {"tracking_number": "1Z999AA10123456784", "carrier_code": "ups", "order_id": "#1005", "title": ""},  # repeat
        {"tracking_number": "EA123456789CN", "carrier_code": "", "order_id": "#1006", "title": ""},  # ambiguous
        {"tracking_number": "HELLO-WORLD", "carrier_code": "", "order_id": "#1007", "title": ""},  # undetected
        {"tracking_number": "AB", "carrier_code": "ups", "order_id": "#1008", "title": ""},  # 4014
        {"tracking_number": "1Z999AA10123456786", "carrier_code": "no-such-courier", "order_id": "", "title": ""},
        {"tracking_number": existing["tracking_number"], "carrier_code": existing["carrier_code"],
         "order_id": "", "title": ""},  # 4016
        {"tracking_number": "9400111899223100012345", "carrier_code": "USPS", "order_id": "#1011", "title": ""},
    ]


EXPECTED_RESULTS = {
    1: "created", 2: "created", 3: "missing_number", 4: "bad_carrier_form", 5: "duplicate_in_input",
    6: "carrier_ambiguous", 7: "carrier_undetected", 8: "invalid_number", 9: "invalid_carrier",
    10: "already_exists", 11: "created",
}
CREATED_NUMBERS = {"1Z999AA10123456784", "LK123456785CN", "9400111899223100012345"}


@pytest.fixture(scope="module")
def runs(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("register_e2e")
    shipments = root / "shipments.csv"
    with shipments.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["tracking_number", "carrier_code", "order_id", "title", "note"])
        writer.writeheader()
        writer.writerows({**row, "note": "ignored"} for row in _rows(sandbox))
    data_dir = root / "data"
    resources = default_resources(data_dir, base_url=sandbox.base_url, api_key=KEY, shipments=str(shipments))
    first = materialize_all(resources, data_dir, selection=REGISTRATION_ONLY)
    after_first = sandbox.stats()["by_endpoint_code"]
    sandbox.advance_clock(96)  # the new trackings get checkpoints before they are extracted
    sync = materialize_all(resources, data_dir, run_config_ops={"trackingmore_extract": {"mode": "full"}})
    return {"first": first, "sync": sync, "after_first": after_first, "after_sync": sandbox.stats()["by_endpoint_code"],
            "served_429": sandbox.stats()["served_429"], "warehouse": resources["warehouse"].published_file,
            "build": resources["warehouse"].build_file, "lake": data_dir / "lake"}


def _query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_the_first_run_sends_one_batch_and_detects_only_rows_without_a_carrier(runs: dict) -> None:
    assert runs["first"].success
    assert sum(runs["after_first"]["/v2/trackings/batch"].values()) == 1
    assert runs["after_first"]["/v2/trackings/batch"] == {"201": 1}  # some items refused, as spec §2 says
    assert sum(runs["after_first"]["/v2/carriers/detect"].values()) == 3  # rows 2, 6, 7; not the repeat
    assert "/v2/trackings/post" not in runs["after_first"]


def test_detect_and_batch_calls_are_paced_within_the_accounts_rate(runs: dict) -> None:
    """The sandbox allows 1 request/second to the endpoints other than the list (§7), as the real API."""
    assert runs["served_429"] == 0


def test_every_row_gets_one_result_with_a_reason(runs: dict) -> None:
    rows = _query(
        runs["warehouse"],
        "SELECT source_row, result, severity, field, reason, tracking_id FROM raw.registrations "
        f"WHERE run_id = '{runs['first'].run_id}' ORDER BY source_row",
    )
    assert {row[0]: row[1] for row in rows} == EXPECTED_RESULTS
    assert len(rows) == len(EXPECTED_RESULTS)
    by_row = {row[0]: row for row in rows}
    assert by_row[3][3] == "tracking_number" and "row 3" in by_row[3][4]
    assert by_row[4][3] == "carrier_code" and "'ups!'" in by_row[4][4]
    assert "repeats row 1" in by_row[5][4]
    assert "china-ems" in by_row[6][4] and "china-post" in by_row[6][4]
    assert by_row[8][3] == "tracking_number" and by_row[9][3] == "carrier_code"
    assert all(by_row[n][5] for n in (1, 2, 11)), "a created tracking carries TrackingMore's id"
    assert {row[2] for row in rows if row[1] in ("created", "already_exists")} == {"ok"}


def test_the_check_warns_and_names_the_rows_to_fix(runs: dict) -> None:
    check = next(c for c in check_outcomes(runs["first"]) if c["check"] == "registrations_accepted")
    assert (check["passed"], check["severity"]) == (False, "WARN")
    assert check["metadata"]["rows_to_fix"] == 7 and check["metadata"]["refused_by_account"] == 0
    assert {p["source_row"] for p in check["metadata"]["first_problems"]} == {3, 4, 5, 6, 7, 8, 9}


def test_the_rerun_inside_the_sync_sends_nothing_again(runs: dict) -> None:
    assert runs["sync"].success
    before, after = runs["after_first"], runs["after_sync"]
    assert after["/v2/trackings/batch"] == before["/v2/trackings/batch"]
    assert "/v2/trackings/post" not in after
    # Only the two rows whose courier stayed unknown are detected again; numbers refused for good are not resent.
    assert sum(after["/v2/carriers/detect"].values()) == sum(before["/v2/carriers/detect"].values()) + 2
    rerun = dict(_query(
        runs["build"],  # the sync may publish before it loads raw.registrations: the build file has it now
        f"SELECT source_row, settled_by FROM raw.registrations WHERE run_id = '{runs['sync'].run_id}'",
    ))
    assert set(rerun) == {3, 4, 5, 6, 7, 8, 9}, "bad rows are reported again, registered ones are not"
    assert rerun[8] == rerun[9] == "earlier"


def test_registered_shipments_are_in_the_marts_equal_to_the_truth(runs: dict, sandbox: SandboxServer) -> None:
    landed = {row[0] for row in _query(runs["warehouse"], "SELECT tracking_number FROM raw.trackings")}
    assert CREATED_NUMBERS <= landed
    journeys = {row[0] for row in _query(runs["warehouse"], "SELECT tracking_number FROM fct_shipment_journeys")}
    assert CREATED_NUMBERS <= journeys
    order_ids = dict(_query(runs["warehouse"], "SELECT tracking_number, order_id FROM raw.trackings"))
    assert order_ids["1Z999AA10123456784"] == "#1001" and order_ids["LK123456785CN"] == "#1002"
    truth = sandbox.expected_metrics(**truth_parameters(SQL_DIR))
    with duckdb.connect(str(runs["warehouse"]), read_only=True) as connection:
        problems = [p for mart in MART_GROUPS for p in mart_mismatches(connection, mart, truth[mart])]
    assert problems == []


def test_the_key_is_in_no_registration_record(runs: dict) -> None:
    rows = _query(runs["build"], "SELECT * FROM raw.registrations")
    assert rows and not any(KEY in str(value) for row in rows for value in row)


def test_the_lake_keeps_an_intent_and_a_result_per_batch(runs: dict) -> None:
    intents = sorted((runs["lake"] / "registrations" / "intents").glob("batch-*.parquet"))
    assert len(intents) == 1
    assert (runs["lake"] / "registrations" / "results" / intents[0].name).exists()
