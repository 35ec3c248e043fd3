"""Typed views of v2 response bodies, decoded with msgspec.

Only the fields the pipeline acts on are declared; everything else is skipped by the decoder
without building Python objects. `data` and list items stay `msgspec.Raw` — the exact bytes the
API sent — so the landing keeps each item's original JSON without re-serialising it. Fields are
typed `Any` because the API is loose about types (`total` arrives as a string, `archived` as a
bool or a string): the pipeline coerces them itself rather than rejecting a page.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Meta(msgspec.Struct):
    code: Any = None
    type: Any = None
    message: Any = None


class Envelope(msgspec.Struct):
    meta: Meta
    data: msgspec.Raw = msgspec.Raw(b"null")


class ListPage(msgspec.Struct):
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


ENVELOPE_DECODER = msgspec.json.Decoder(Envelope)
# Error bodies carry `"data": []`; success bodies an object. Both are valid answers.
LIST_PAGE_DECODER = msgspec.json.Decoder(ListPage | list | None)


def decode_list_page(data: msgspec.Raw) -> ListPage | None:
    """The list page in `data`, or None when `data` is not a page (an error body's `[]`)."""
    decoded = LIST_PAGE_DECODER.decode(data)
    return decoded if isinstance(decoded, ListPage) else None
