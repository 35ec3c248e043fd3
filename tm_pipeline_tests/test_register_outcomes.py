"""Registration when things go wrong: a lost answer, a crash between intent and result, a quota stop,
inputs of every supported form, and no input at all. Real sandbox over HTTP, real files."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tm_pipeline.api.client import TrackingMoreClient
from tm_pipeline.api.errors import ConfigurationError, exit_code_by_class_name
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.definitions import default_resources
from tm_pipeline.load.registration_assets import RAW_REGISTRATIONS
from tm_pipeline.register.assets import LAKE_REGISTRATIONS, RegistrationResource
from tm_pipeline.register.record import Intent, RegistrationRecord, new_batch_id
from tm_pipeline.register.run import Registrar
from tm_pipeline.register.shipments import read_shipments, sort_rows
from tm_pipeline.runs import check_outcomes, materialize_all, step_failures
from tm_pipeline.sandbox import SandboxConfig, SandboxServer

KEY = "register-outcomes-key"
FAST = RetryPolicy(backoff_initial_s=0.01, backoff_max_s=0.05, pause_on_429_s=0.1)
UPS = [f"1Z999AA1012345{n:04d}" for n in range(10)]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """Unthrottled, so these tests spend no time on pacing (the end-to-end test paces at 1/s)."""
    config = SandboxConfig(trackings=50, seed=5, api_keys=(KEY,), list_rate_per_s=None, other_rate_per_s=None)
    with SandboxServer(config).running() as server:
        yield server


def write_csv(path: Path, numbers: list[str], carrier: str = "ups") -> str:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tracking_number", "carrier_code"])
        writer.writerows([number, carrier] for number in numbers)
    return str(path)


def registrar(
    sandbox: SandboxServer, lake: Path, run_id: str = "run-1", batch_size: int = 40, said: list[str] | None = None
) -> Registrar:
    client = TrackingMoreClient(sandbox.base_url, KEY, timeout_s=5)
    return Registrar(client, Pacer(None), Pacer(None), RegistrationRecord(lake), run_id, FAST,
                     batch_size=batch_size, progress=(said if said is not None else []).append)


def calls(sandbox: SandboxServer, endpoint: str) -> int:
    return sum(sandbox.stats()["by_endpoint_code"].get(endpoint, {}).values())


def test_a_lost_answer_is_settled_by_a_lookup_and_nothing_is_sent_twice(sandbox: SandboxServer, tmp_path: Path) -> None:
    """The sandbox creates the batch, then resets the connection (seed 92 draws the reset for the
    first request only): the client cannot know the outcome and must look, not resend."""
    source = write_csv(tmp_path / "s.csv", UPS[:3])
    before = sandbox.stats()
    sandbox.set_faults({"reset_rate": 0.5, "seed": 92})
    try:
        summary = registrar(sandbox, tmp_path / "lake").register(source)
    finally:
        sandbox.set_faults({})
    after = sandbox.stats()
    # Two requests reached the sandbox: the batch (answer lost to the reset, so counted under no code) and a lookup.
    assert after["requests"] - before["requests"] == 2
    assert after["faults"]["reset"] - before["faults"].get("reset", 0) == 1
    answered_before = {endpoint: sum(codes.values()) for endpoint, codes in before["by_endpoint_code"].items()}
    assert calls(sandbox, "/v2/trackings/batch") == answered_before.get("/v2/trackings/batch", 0)
    assert calls(sandbox, "/v2/trackings/get") == answered_before.get("/v2/trackings/get", 0) + 1
    assert dict(summary.results) == {"created": 3}
    results = RegistrationRecord(tmp_path / "lake").results().to_pylist()
    assert {(r["tracking_number"], r["settled_by"]) for r in results} == {(n, "lookup") for n in UPS[:3]}
    known = {(t["tracking_number"], t["id"]) for t in sandbox.truth_trackings()}
    assert {(r["tracking_number"], r["tracking_id"]) for r in results} <= known


def test_an_intent_left_by_a_crash_is_settled_before_anything_is_sent(sandbox: SandboxServer, tmp_path: Path) -> None:
    """A crash after the intent was written: one number had reached TrackingMore, one had not.
    The next run finds the first by lookup and sends only the second."""
    lake = tmp_path / "lake"
    record = RegistrationRecord(lake)
    batch_id = new_batch_id()
    record.write_intents("crashed-run", [Intent(batch_id, 1, UPS[3], "ups", "input", "s.csv"),
                                         Intent(batch_id, 2, UPS[4], "ups", "input", "s.csv")])
    client = TrackingMoreClient(sandbox.base_url, KEY, timeout_s=5)
    assert client.post("/trackings/post", {"tracking_number": UPS[3], "carrier_code": "ups"}).meta_code == 200
    assert [i.tracking_number for i in record.unsettled()] == [UPS[3], UPS[4]]
    batches_before = calls(sandbox, "/v2/trackings/batch")

    summary = registrar(sandbox, lake, "run-2").register(write_csv(tmp_path / "s.csv", UPS[3:5]))

    assert record.unsettled() == []
    assert summary.settled_from_earlier == 2 and summary.skipped_registered == 1
    assert calls(sandbox, "/v2/trackings/batch") == batches_before + 1
    new_intents = [p for p in (lake / "registrations" / "intents").glob("*.parquet") if batch_id not in p.name]
    assert [row["tracking_number"] for row in pq.read_table(new_intents[0]).to_pylist()] == [UPS[4]]
    sent_now = [r for r in record.results().to_pylist() if r["batch_id"] != batch_id]
    assert [(r["tracking_number"], r["result"], r["settled_by"]) for r in sent_now] == [(UPS[4], "created", "answer")]
    settled = [r for r in record.results().to_pylist() if r["batch_id"] == batch_id]
    assert {(r["tracking_number"], r["result"], r["settled_by"]) for r in settled} == {
        (UPS[3], "created", "lookup"), (UPS[4], "not_sent", "lookup")
    }


def test_a_quota_refusal_stops_the_run_with_advice_and_the_next_run_sends_only_the_rest(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Quota for 2 creations, 5 shipments in batches of 2: batch 1 is created, batch 2 refused with
    4021, batch 3 not sent; the Dagster step fails with exit code 3 and the check says ERROR."""
    numbers = UPS[5:10]
    source = write_csv(tmp_path / "s.csv", numbers)
    data_dir = tmp_path / "data"
    resources = default_resources(data_dir, base_url=sandbox.base_url, api_key=KEY, shipments=source,
                                  pause_on_429_s=0.1)
    resources["registration"] = RegistrationResource(shipments=source, batch_size=2)
    selection = dg.AssetSelection.assets(LAKE_REGISTRATIONS, RAW_REGISTRATIONS)
    batches_before = calls(sandbox, "/v2/trackings/batch")
    sandbox.set_billing(quota=2)
    try:
        stopped = materialize_all(resources, data_dir, selection=selection)
    finally:
        sandbox.set_billing(quota=None)
    assert not stopped.success
    ((step, error_class, message),) = step_failures(stopped)
    assert error_class == "RegistrationStoppedError" and exit_code_by_class_name()[error_class] == 3
    assert "quota" in message and "top up" in message and "2 registered" in message
    check = next(c for c in check_outcomes(stopped) if c["check"] == "registrations_accepted")
    assert (check["passed"], check["severity"]) == (False, "ERROR")
    assert check["metadata"]["refused_by_account"] == 2 and "top up" in check["metadata"]["what_to_do"]
    assert calls(sandbox, "/v2/trackings/batch") == batches_before + 2
    results = RegistrationRecord(data_dir / "lake").results().to_pylist()
    assert sorted(r["result"] for r in results) == ["created", "created", "not_sent", "quota_exhausted",
                                                    "quota_exhausted"]

    again = materialize_all(resources, data_dir, selection=selection)
    assert again.success
    assert calls(sandbox, "/v2/trackings/batch") == batches_before + 4  # 3 left, in batches of 2
    created = {t["tracking_number"] for t in sandbox.truth_trackings()}
    assert set(numbers) <= created
    with duckdb.connect(str(resources["warehouse"].build_file), read_only=True) as connection:  # not published here
        latest = connection.execute(
            f"SELECT result, count(*) FROM raw.registrations WHERE run_id = '{again.run_id}' GROUP BY 1"
        ).fetchall()
    assert latest == [("created", 3)]


def test_detection_and_batches_report_progress(sandbox: SandboxServer, tmp_path: Path) -> None:
    said: list[str] = []
    numbers = ["LK100000015CN", "LK100000029CN", "LK100000032CN"]
    summary = registrar(sandbox, tmp_path / "lake", said=said).register(write_csv(tmp_path / "s.csv", numbers, ""))
    assert summary.detect_calls == 3 and dict(summary.results) == {"created": 3}
    assert said[0] == "detecting couriers: 0 of 3 rows without carrier_code"
    assert "3 rows in" in said[1] and "3 to register" in said[1]
    assert "batch 1/1" in said[-1]


def test_no_input_configured_sends_nothing_and_says_so(sandbox: SandboxServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    resources = default_resources(data_dir, base_url=sandbox.base_url, api_key=KEY, shipments="")
    requests_before = sandbox.stats()["requests"]
    result = materialize_all(resources, data_dir, selection=dg.AssetSelection.assets(LAKE_REGISTRATIONS))
    assert result.success
    assert sandbox.stats()["requests"] == requests_before
    (materialization,) = result.asset_materializations_for_node("lake__registrations")
    assert materialization.metadata["registered_now"].value == 0
    assert "registration is off: TM_SHIPMENTS_FILE is not set" in materialization.metadata["registration"].value


def test_parquet_and_duckdb_inputs_read_like_the_csv(tmp_path: Path) -> None:
    csv_source = write_csv(tmp_path / "s.csv", ["0012345678", "LK123456785CN"], carrier="")
    orders = pa.table({"tracking_number": ["0012345678", "LK123456785CN"], "carrier_code": [None, ""]})
    pq.write_table(orders, tmp_path / "s.parquet")
    with duckdb.connect(str(tmp_path / "orders.duckdb")) as connection:
        connection.execute("CREATE SCHEMA shop")
        connection.register("orders", orders)
        connection.execute("CREATE TABLE shop.shipments AS SELECT * FROM orders")
    for source in (csv_source, str(tmp_path / "s.parquet"), f"{tmp_path / 'orders.duckdb'}:shop.shipments"):
        shipments, refusals = sort_rows(read_shipments(source).rows)
        assert [(s.source_row, s.tracking_number, s.carrier_code) for s in shipments] == [
            (1, "0012345678", None), (2, "LK123456785CN", None)
        ], source
        assert refusals == []


def test_an_unusable_input_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist") as missing:
        read_shipments(str(tmp_path / "nope.csv"))
    assert "nope.csv" in str(missing.value)
    (tmp_path / "wrong.csv").write_text("number,carrier\n1Z999AA10123456784,ups\n")
    with pytest.raises(ConfigurationError, match=r"no `tracking_number` column \(columns: number, carrier\)"):
        read_shipments(str(tmp_path / "wrong.csv"))
    (tmp_path / "s.xlsx").write_text("x")
    with pytest.raises(ConfigurationError, match=r"\.xlsx.*\.csv or \.parquet"):
        read_shipments(str(tmp_path / "s.xlsx"))
    duckdb.connect(str(tmp_path / "o.duckdb")).close()
    with pytest.raises(ConfigurationError, match="not a table name"):
        read_shipments(f"{tmp_path / 'o.duckdb'}:shop.shipments; DROP TABLE x")
    with pytest.raises(ConfigurationError, match="cannot read table shop.missing"):
        read_shipments(f"{tmp_path / 'o.duckdb'}:shop.missing")
