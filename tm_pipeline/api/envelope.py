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
    data: ListPage | list | None = None


ENVELOPE_DECODER = msgspec.json.Decoder(Envelope)
LIST_ENVELOPE_DECODER = msgspec.json.Decoder(ListEnvelope)
