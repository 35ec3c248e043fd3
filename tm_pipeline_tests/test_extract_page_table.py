import json
from datetime import datetime, timezone

import msgspec
import pytest

from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA, items_to_table
from tm_pipeline.extract.quarantine import QUARANTINE_SCHEMA

FETCHED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_messy_items_land_with_their_original_json() -> None:
    items = [
        {"id": "a" * 32, "status": "Delivered", "created_at": "2019-08-20T14:56:55+08:00", "updated_at": None,
         "customer_email": ["x@example.com", "y@example.com"], "origin_info": {"trackinfo": []},
         "original_country": "Côte d'Ivoire"},
        {"id": "b" * 32, "status": "pending", "created_at": "2019-08-20T14:56:55+00:00", "updated_at": "",
         "customer_email": "", "destination_info": None, "archived": "true"},
    ]
    sent = [json.dumps(item, ensure_ascii=False).encode() for item in items]
    landed = items_to_table([msgspec.Raw(b) for b in sent], "run-1", 3, FETCHED_AT)
    table = landed.trackings
    assert table.schema == TRACKINGS_SCHEMA
    assert landed.quarantine.num_rows == 0
    rows = table.to_pylist()
    assert [r["raw_json"].encode() for r in rows] == sent  # byte for byte what the API sent
    assert rows[0]["created_at"] == datetime(2019, 8, 20, 6, 56, 55, tzinfo=timezone.utc)
    assert rows[0]["updated_at"] is None and rows[1]["updated_at"] is None
    assert rows[0]["destination_country"] is None
    assert rows[1]["archived"] is True
    assert {r["page"] for r in rows} == {3}


def _good(letter: str) -> bytes:
    return json.dumps(
        {"id": letter * 32, "tracking_number": f"T{letter}", "created_at": "2024-05-01T10:00:00+08:00"}
    ).encode()


# (what was sent as the middle item, field named, reason, tracking_id recorded)
MALFORMED = {
    "id missing": (b'{"tracking_number": "X1"}', "id", "missing", None),
    "id empty": (b'{"id": "", "tracking_number": "X1"}', "id", "missing", None),
    "id a number": (b'{"id": 273382085843350}', "id", "wrong_type", None),
    "created_at a number": (b'{"id": "c1", "created_at": 1714731794}', "created_at", "wrong_type", "c1"),
    "updated_at not ISO": (b'{"id": "c2", "updated_at": "yesterday"}', "updated_at", "bad_timestamp", "c2"),
    "status an object": (b'{"id": "c3", "status": {"code": 1}}', "status", "wrong_type", "c3"),
    "archived an array": (b'{"id": "c4", "archived": [true]}', "archived", "wrong_type", "c4"),
    "not an object": (b'"d0b6b5b8a3f74c0e"', None, "not_an_object", None),
    "null item": (b"null", None, "not_an_object", None),
    "lone surrogate in a typed field": (b'{"id": "c5", "tracking_number": "\\ud800RR1"}', "tracking_number",
                                        "lone_surrogate", "c5"),
    "lone surrogate elsewhere": (b'{"id": "c6", "comment": "a\\udc00"}', "comment", "lone_surrogate", "c6"),
    "not UTF-8": (b'{"id": "c7", "comment": "\xff"}', None, "invalid_utf8", "c7"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_item_is_quarantined_and_the_rest_of_the_page_lands(kind: str) -> None:
    sent, field, reason, tracking_id = MALFORMED[kind]
    raw_items = [msgspec.Raw(_good("a")), msgspec.Raw(sent), msgspec.Raw(_good("b"))]
    landed = items_to_table(raw_items, "run-1", 7, FETCHED_AT)
    assert landed.trackings.column("tracking_id").to_pylist() == ["a" * 32, "b" * 32]
    assert landed.quarantine.schema == QUARANTINE_SCHEMA
    [row] = landed.quarantine.to_pylist()
    assert (row["extraction_id"], row["page"], row["position"]) == ("run-1", 7, 1)
    assert (row["field"], row["reason"], row["tracking_id"]) == (field, reason, tracking_id)
    assert row["raw_bytes"] == sent, "the quarantine keeps the original bytes"
    assert row["detail"]


def test_a_number_where_a_string_belongs_is_stringified_not_quarantined() -> None:
    """The API sends `status` or `order_id` as a number at times; raw_json keeps what was sent."""
    sent = b'{"id": "e1", "order_id": 12345, "status": 3, "created_at": "2024-05-01T10:00:00+08:00"}'
    landed = items_to_table([msgspec.Raw(sent)], "run-1", 1, FETCHED_AT)
    assert landed.quarantine.num_rows == 0
    assert landed.trackings.select(["order_id", "status"]).to_pylist() == [{"order_id": "12345", "status": "3"}]


def test_every_item_of_a_page_can_be_quarantined() -> None:
    landed = items_to_table([msgspec.Raw(b"1"), msgspec.Raw(b'{"id": 2}')], "run-1", 2, FETCHED_AT)
    assert landed.trackings.num_rows == 0
    assert landed.quarantine.column("position").to_pylist() == [0, 1]
