"""Malformed list items on demand: the shapes that once blocked every sync, served on purpose.

Each mutation takes one item's JSON bytes (as the list endpoint would serve them) and returns what
a misbehaving API might send instead. They are applied at serve time, so the store and the ground
truth stay the well-formed data and a test can compare what landed with what should have.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import orjson


def _created_at_as_number(item: bytes) -> bytes:
    document = orjson.loads(item)
    document["created_at"] = int(datetime.fromisoformat(document["created_at"]).timestamp())
    return orjson.dumps(document)


def _id_as_number(item: bytes) -> bytes:
    document = orjson.loads(item)
    document["id"] = int(document["id"][:12], 16)
    return orjson.dumps(document)


def _id_missing(item: bytes) -> bytes:
    document = orjson.loads(item)
    del document["id"]
    return orjson.dumps(document)


def _not_an_object(item: bytes) -> bytes:
    return orjson.dumps(orjson.loads(item)["id"])  # a bare string where the tracking object belongs


def _lone_surrogate(item: bytes) -> bytes:
    """`\\ud800` at the start of tracking_number: valid JSON, not valid Unicode (orjson cannot write it)."""
    marker = b'"tracking_number":"'
    return item.replace(marker, marker + b"\\ud800", 1)


MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "created_at_number": _created_at_as_number,
    "id_number": _id_as_number,
    "id_missing": _id_missing,
    "not_object": _not_an_object,
    "lone_surrogate": _lone_surrogate,
}
