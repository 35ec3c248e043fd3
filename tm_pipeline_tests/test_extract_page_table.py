import json
from datetime import datetime, timezone

import msgspec
import pytest

from tm_pipeline.extract.page_table import TRACKINGS_SCHEMA, items_to_table

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
    table = items_to_table([msgspec.Raw(b) for b in sent], "run-1", 3, FETCHED_AT)
    assert table.schema == TRACKINGS_SCHEMA
    rows = table.to_pylist()
    assert [r["raw_json"].encode() for r in rows] == sent  # byte for byte what the API sent
    assert rows[0]["created_at"] == datetime(2019, 8, 20, 6, 56, 55, tzinfo=timezone.utc)
    assert rows[0]["updated_at"] is None and rows[1]["updated_at"] is None
    assert rows[0]["destination_country"] is None
    assert rows[1]["archived"] is True
    assert {r["page"] for r in rows} == {3}


def test_an_item_without_id_is_refused_with_its_position() -> None:
    with pytest.raises(ValueError, match="page 2: item 1 has no 'id'"):
        items_to_table([msgspec.Raw(b'{"id": "x"}'), msgspec.Raw(b'{"status": "transit"}')], "run-1", 2, FETCHED_AT)


def test_an_item_that_is_not_an_object_is_refused_naming_the_page() -> None:
    with pytest.raises(ValueError, match="page 4: an item is not a tracking object"):
        items_to_table([msgspec.Raw(b"null")], "run-1", 4, FETCHED_AT)
