"""Typed views of v2 response bodies, decoded with msgspec.

Only the fields the pipeline acts on are declared; everything else is skipped by the decoder
without building Python objects. `data` and list items stay `msgspec.Raw` — the exact bytes the
API sent — so the landing keeps each item's original JSON without re-serialising it. Fields are
typed `Any` because the API is loose about types (`total` arrives as a string, `archived` as a
bool or a string): the pipeline coerces them itself rather than rejecting a page.

Valid JSON is never a transport failure: a body msgspec refuses only because of lone-surrogate
escapes is decoded from a same-length sanitised copy (`decode_tolerant`), and the affected items
keep their original bytes for the landing to quarantine.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec


class Meta(msgspec.Struct, gc=False):
    code: Any = None
    type: Any = None
    message: Any = None


class Envelope(msgspec.Struct, gc=False):
    meta: Meta
    data: msgspec.Raw = msgspec.Raw(b"null")


class ListPage(msgspec.Struct, gc=False):
    """`data` of GET /v2/trackings/get."""

    page: Any = None
    limit: Any = None
    total: Any = None
    count: Any = None
    items: list[msgspec.Raw] = []

    @property
    def total_reported(self) -> int | None:
        try:
            return int(self.total)
        except (TypeError, ValueError):
            return None


class ListEnvelope(msgspec.Struct, gc=False):
    """A list answer decoded in one pass: error bodies carry `"data": []`, success bodies a page."""

    meta: Meta
    data: ListPage | list[Any] | None = None


ENVELOPE_DECODER = msgspec.json.Decoder(Envelope)
LIST_ENVELOPE_DECODER = msgspec.json.Decoder(ListEnvelope)


# A `\\uXXXX` escape of a UTF-16 surrogate (D800-DFFF). The literal prefix lets `re` skip ahead quickly.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LOW_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
REPLACEMENT_ESCAPE = rb"\ufffd"  # as long as any `\udXXX` escape, so byte offsets survive
_BACKSLASH = ord("\\")


def replace_lone_surrogates(body: bytes) -> bytes:
    """`body` with every lone-surrogate escape replaced by `\\ufffd`; the same object when there is none.

    A lone surrogate (`"\\ud800"`) is valid JSON but not valid Unicode, and msgspec (like DuckDB)
    refuses it. Both escapes are six bytes, so every value keeps its byte span in the copy. A high
    surrogate followed by a low one is a valid pair and stays; `\\\\ud800` (an escaped backslash,
    then the text "ud800") is no escape at all.
    """
    lone_starts = []
    low_of_pair_at = -1
    for match in _SURROGATE_ESCAPE.finditer(body):
        start = match.start()
        if start == low_of_pair_at or _is_escaped(body, start):
            continue
        is_high = body[start + 3] in b"89abAB"  # the hex digit after "\u" and "d"
        if is_high and _LOW_SURROGATE_ESCAPE.match(body, start + 6):
            low_of_pair_at = start + 6
            continue
        lone_starts.append(start)
    if not lone_starts:
        return body
    sanitised = bytearray(body)
    for start in lone_starts:
        sanitised[start : start + 6] = REPLACEMENT_ESCAPE
    return bytes(sanitised)


def _is_escaped(body: bytes, position: int) -> bool:
    """Whether the backslash at `position` is itself escaped (preceded by an odd run of backslashes)."""
    run = 0
    while position - run - 1 >= 0 and body[position - run - 1] == _BACKSLASH:
        run += 1
    return run % 2 == 1


def decode_tolerant(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    """Decode a body; valid JSON that msgspec refuses only for lone surrogates is decoded from a
    sanitised copy, and list items get their original bytes back (the landing quarantines them).

    Raises msgspec.DecodeError when the body is not JSON at all.
    """
    try:
        return decoder.decode(body)
    except msgspec.DecodeError:
        sanitised = replace_lone_surrogates(body)
        if sanitised is body:
            raise
    decoded = decoder.decode(sanitised)
    data = getattr(decoded, "data", None)
    if isinstance(data, ListPage):
        data.items = _original_items(body, sanitised, data.items)
    elif isinstance(data, list) and data and all(isinstance(item, msgspec.Raw) for item in data):
        decoded.data = _original_items(body, sanitised, data)  # a bare array of items (v4)
    return decoded


def _original_items(body: bytes, sanitised: bytes, items: list[msgspec.Raw]) -> list[msgspec.Raw]:
    """The items at the same spans of the original body. Items lie in order with only separators
    between them, so searching from the end of the previous item finds each one at its own span."""
    restored = []
    cursor = 0
    for item in items:
        item_bytes = bytes(item)
        start = sanitised.find(item_bytes, cursor)
        cursor = start + len(item_bytes)
        original = body[start:cursor]
        restored.append(item if original == item_bytes else msgspec.Raw(original))
    return restored
