"""Ground-truth definitions on hand-checkable shipments (no server involved)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tm_pipeline.sandbox.truth import ShipmentFacts, expected_metrics, quantile_cont, shipment_row


def facts(
    tracking_id: str,
    status: str,
    checkpoints: list[tuple[str, str]],
    carrier: str = "ups",
    destination: str | None = "United States",
) -> ShipmentFacts:
    return ShipmentFacts(
        tracking_id=tracking_id,
        carrier_code=carrier,
        status=status,
        original_country="United States",
        destination_country=destination,
        checkpoints=tuple((datetime.fromisoformat(when), cp_status) for when, cp_status in checkpoints),
    )


def test_quantile_cont_interpolates_linearly_like_numpy() -> None:
    values = [1.0, 2.0, 4.0, 10.0]
    assert quantile_cont(values, 0.5) == 3.0
    assert quantile_cont(values, 0.9) == pytest.approx(4.0 + 6.0 * 0.7)
    assert quantile_cont([5.0], 0.95) == 5.0
    assert quantile_cont([], 0.5) is None


def test_delivery_days_from_first_scan_to_earliest_delivered_checkpoint() -> None:
    row = shipment_row(
        facts(
            "a",
            " Delivered",
            [
                ("2024-03-05 12:00", "Delivered"),
                ("2024-03-04 12:00", "delivered"),
                ("2024-03-02 00:00", "exception"),
                ("2024-03-01 00:00", "transit"),
            ],
        )
    )
    assert row["first_scan_at"] == datetime(2024, 3, 1)
    assert row["delivered_at"] == datetime(2024, 3, 4, 12)
    assert row["delivery_days"] == 3.5
    assert row["status"] == "delivered" and row["ever_exception"] and not row["is_exception"]


def test_delivery_days_null_unless_current_status_is_delivered() -> None:
    row = shipment_row(
        facts("b", "exception", [("2024-03-01 00:00", "transit"), ("2024-03-03 00:00", "delivered")])
    )
    assert (
        row["delivery_days"] is None and row["delivered_at"] == datetime(2024, 3, 3) and row["is_exception"]
    )


def test_marts_on_a_tiny_account() -> None:
    metrics = expected_metrics(
        [
            facts("a", "delivered", [("2024-03-01 00:00", "transit"), ("2024-03-02 00:00", "delivered")]),
            facts("b", "Delivered", [("2024-03-04 00:00", "transit"), ("2024-03-07 00:00", "delivered")]),
            facts(
                "c",
                "expired",
                [("2024-03-05 00:00", "transit"), ("2024-03-06 00:00", "Exception")],
                destination="",
            ),
            facts("d", "notfound", [], carrier="dhl", destination=None),
        ]
    )
    by_carrier = {row["carrier_code"]: row for row in metrics["delivery_time_by_carrier"]}
    assert by_carrier["ups"] == {
        "carrier_code": "ups",
        "shipments": 3,
        "delivered": 2,
        "mean_delivery_days": 2.0,
        "p50_delivery_days": 2.0,
        "p90_delivery_days": pytest.approx(2.8),
        "p95_delivery_days": pytest.approx(2.9),
    }
    assert by_carrier["dhl"]["delivered"] == 0 and by_carrier["dhl"]["mean_delivery_days"] is None
    assert [row["carrier_code"] for row in metrics["exception_rate_by_carrier"]] == ["ups"]
    ups = metrics["exception_rate_by_carrier"][0]
    assert (ups["scanned_shipments"], ups["exception_shipments"], ups["ever_exception_shipments"]) == (
        3,
        1,
        1,
    )
    assert ups["exception_rate"] == pytest.approx(1 / 3)
    weeks = [row["week_start"] for row in metrics["delivery_time_by_week"]]
    assert weeks == [date(2024, 2, 26), date(2024, 3, 4)]
    destinations = [row["destination_country"] for row in metrics["exception_rate_by_destination"]]
    assert destinations == ["United States", None]
    assert [row["tracking_id"] for row in metrics["fct_shipments"]] == ["a", "b", "c", "d"]
