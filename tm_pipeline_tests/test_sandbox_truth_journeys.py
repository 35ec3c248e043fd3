"""Journey ground truth on hand-checkable shipments (no server), and its defaults against the models'."""

from __future__ import annotations

from datetime import date, datetime

from tm_pipeline.bench.truth_compare import truth_parameters
from tm_pipeline.definitions import SQL_DIR
from tm_pipeline.sandbox.truth_journeys import (
    DEFAULT_AT_RISK_WITHIN_BUSINESS_DAYS,
    DEFAULT_HOLIDAYS,
    DEFAULT_PROMISES,
    DEFAULT_STUCK_AFTER_DAYS,
    JourneyCheckpoint,
    JourneyFacts,
    business_days_between,
    expected_journey_metrics,
    journey_row,
)

AS_OF = datetime(2024, 6, 1, 12, 0)


Scan = tuple[str, str, str | None, str | None]  # (local time, status, sub-status, ItemNode)


def journey(tracking_id: str, status: str, scans: list[Scan], created: str = "2024-05-20 08:00") -> JourneyFacts:
    return JourneyFacts(
        tracking_id=tracking_id,
        tracking_number=f"N-{tracking_id}",
        carrier_code="ups",
        status=status,
        original_country="United States",
        destination_country="",
        created_at_utc=datetime.fromisoformat(created),
        updated_at_utc=AS_OF,
        checkpoints=tuple(
            JourneyCheckpoint(datetime.fromisoformat(when), cp_status, substatus, node)
            for when, cp_status, substatus, node in scans
        ),
    )


def test_business_days_skip_weekends_and_holidays_and_exclude_the_start_day() -> None:
    friday, monday, tuesday = date(2024, 5, 24), date(2024, 5, 27), date(2024, 5, 28)
    assert business_days_between(friday, tuesday, holidays=()) == 2  # Mon, Tue
    assert business_days_between(friday, tuesday, holidays={monday}) == 1  # Memorial Day off
    assert business_days_between(tuesday, tuesday, holidays=()) == 0
    assert business_days_between(tuesday, friday, holidays=()) == -2


def test_lead_times_run_between_the_milestones_in_calendar_and_business_days() -> None:
    row = journey_row(
        journey(
            "a",
            "Delivered",
            [
                ("2024-05-24 10:00", "transit", "transit001", "ItemReceived"),  # Friday
                ("2024-05-28 09:00", "pickup", "pickup001", None),  # Tuesday, after Memorial Day
                ("2024-05-28 15:00", "delivered", "delivered001", None),
            ],
            created="2024-05-23 22:00",
        ),
        AS_OF,
        holidays={date(2024, 5, 27)},
        stuck_after_days=5,
    )
    assert row["pickup_days"] == 0.5 and row["pickup_business_days"] == 1
    assert row["transit_days"] == 4 + 5 / 24 and row["transit_business_days"] == 1
    assert row["last_mile_days"] == 0.25 and row["last_mile_business_days"] == 0
    assert (row["delivery_attempt"], row["delivered_month"], row["is_active"]) == (
        "first_attempt", date(2024, 5, 1), False
    )


def test_what_happens_after_out_for_delivery_decides_the_attempt_outcome() -> None:
    def attempt(middle: tuple[str, str, str | None, str | None]) -> object:
        scans = [
            ("2024-05-27 08:00", "pickup", "pickup001", None),
            ("2024-05-27 18:00", *middle[1:]),
            ("2024-05-29 12:00", "delivered", "delivered002", None),
        ]
        return journey_row(journey("b", "delivered", scans), AS_OF, (), 5)["delivery_attempt"]

    assert attempt(("", "undelivered", "undelivered002", None)) == "after_failed_attempt"
    assert attempt(("", "pickup", "pickup002", None)) == "after_pickup_point_notice"
    assert attempt(("", "exception", "exception005", None)) == "after_exception"
    assert attempt(("", "transit", "transit003", None)) == "first_attempt"


def test_an_active_shipment_is_stuck_from_exactly_n_silent_days_against_the_data_clock() -> None:
    silent_five = journey("c", "transit", [("2024-05-27 12:00", "transit", "transit002", None)])
    silent_less = journey("d", "transit", [("2024-05-27 12:01", "transit", "transit002", None)])
    never_scanned = journey("e", "notfound", [])
    marts = expected_journey_metrics([silent_five, silent_less, never_scanned], holidays=(), stuck_after_days=5)
    assert [row["tracking_id"] for row in marts["stuck_shipments"]] == ["c"]
    assert marts["stuck_share_by_carrier_status"] == [
        {
            "carrier_code": "ups", "status": "transit", "active_shipments": 2, "stuck_shipments": 1,
            "stuck_share": 0.5, "max_days_since_last_checkpoint": 5.0,
        }
    ]
    (coverage,) = marts["scan_coverage_by_carrier"]
    assert (coverage["never_scanned"], coverage["never_scanned_rate"]) == (1, 1 / 3)


def test_the_sandbox_defaults_are_the_models_vars() -> None:
    """/_sandbox/truth uses the defaults; it equals a default build only while these agree."""
    assert truth_parameters(SQL_DIR) == {
        "holidays": DEFAULT_HOLIDAYS, "stuck_after_days": DEFAULT_STUCK_AFTER_DAYS, "promises": DEFAULT_PROMISES,
        "at_risk_within_business_days": DEFAULT_AT_RISK_WITHIN_BUSINESS_DAYS,
    }


def test_promise_uses_the_destination_rule_else_the_carriers_any_destination_rule() -> None:
    promises = (("ups", "United States", 1), ("ups", "Mexico", 2), ("ups", "*", 3))
    scans = [
        ("2024-05-20 10:00", "transit", "transit001", "ItemReceived"),  # Monday
        ("2024-05-22 15:00", "delivered", "delivered001", None),  # Wednesday: 2 business days
    ]

    def verdict(destination: str, carrier: str = "ups") -> tuple[object, object]:
        facts = journey("f", "delivered", scans)
        facts = JourneyFacts(**{**facts.__dict__, "destination_country": destination, "carrier_code": carrier})
        row = journey_row(facts, AS_OF, (), 5, promises)
        return row["promised_business_days"], row["delivery_promise_status"]

    assert verdict("United States") == (1, "late")
    assert verdict("Mexico") == (2, "on_time")
    assert verdict("Canada") == (3, "early")
    assert verdict("") == (3, "early")  # unknown destination: the carrier's "*" rule
    assert verdict("Canada", carrier="dhl") == (None, None)


def test_an_active_shipment_is_on_track_at_risk_or_overdue_by_business_days_left_at_the_as_of_time() -> None:
    """First scan Friday 2024-05-24, as-of Saturday 2024-06-01: Memorial Day off, 4 business days
    spent (Tue-Fri). A promise of 6 leaves 2 (on track with a margin of 1), 5 leaves 1 and 4 leaves
    0 (at risk), 3 leaves -1 (overdue). Delivered and never-scanned shipments get no verdict."""
    scans = [("2024-05-24 10:00", "transit", "transit001", "ItemReceived")]

    def verdict(promised: int, status: str = "transit", shipment_scans: list[Scan] = scans) -> tuple[object, object]:
        row = journey_row(
            journey("g", status, shipment_scans), AS_OF, {date(2024, 5, 27)}, 5, (("ups", "*", promised),), 1
        )
        return row["promise_business_days_left"], row["active_promise_status"]

    assert verdict(6) == (2, "on_track")
    assert verdict(5) == (1, "at_risk")
    assert verdict(4) == (0, "at_risk")
    assert verdict(3) == (-1, "overdue")
    assert verdict(3, status="exception") == (-1, "overdue")  # any active status is judged
    assert verdict(3, status="delivered") == (None, None)
    assert verdict(3, status="notfound", shipment_scans=[]) == (None, None)


def test_active_promise_status_by_carrier_counts_each_status_and_its_share() -> None:
    first_scans = ["2024-05-31 10:00", "2024-05-31 11:00", "2024-05-20 10:00"]  # 0, 0 and 9 business days spent
    facts = [
        journey(f"h{n}", "transit", [(when, "transit", "transit001", None)]) for n, when in enumerate(first_scans)
    ]
    marts = expected_journey_metrics(facts, holidays=(), promises=(("ups", "*", 3),), at_risk_within_business_days=1)
    assert marts["active_promise_status_by_carrier"] == [
        {"carrier_code": "ups", "active_promise_status": "on_track", "active_shipments": 2, "share_of_carrier": 2 / 3},
        {"carrier_code": "ups", "active_promise_status": "overdue", "active_shipments": 1, "share_of_carrier": 1 / 3},
    ]
