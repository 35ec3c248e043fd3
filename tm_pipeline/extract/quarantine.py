"""The quarantine: list items that cannot be typed, kept raw with the reason (pure, no I/O).

One malformed item must not block a page, nor every later sync: the rest of the page lands and the
item lands here, with its original bytes and where it came from, so a person can see what the API
sent and the next run can pick the tracking up once the API sends it whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
import pyarrow as pa

from tm_pipeline.contracts.fields import UTC_US, described

# Reason codes: stable words a query can group by; `detail` says the rest in a sentence.
MISSING = "missing"
WRONG_TYPE = "wrong_type"
BAD_TIMESTAMP = "bad_timestamp"
NOT_AN_OBJECT = "not_an_object"
LONE_SURROGATE = "lone_surrogate"
INVALID_UTF8 = "invalid_utf8"
UNDECODABLE = "undecodable"

QUARANTINE_SCHEMA = pa.schema(
    [
        described("extraction_id", pa.string(), "The extraction whose page carried the item.", nullable=False),
        described("page", pa.int32(), "The list page it came from.", nullable=False),
        described("position", pa.int32(), "Index of the item in that page's `items` (0 = first).", nullable=False),
        described("tracking_id", pa.string(), "`id` when it is a non-empty string, else null."),
        described("field", pa.string(), "The field that could not be typed; null when the whole item could not."),
        described(
            "reason", pa.string(),
            "missing, wrong_type, bad_timestamp, not_an_object, lone_surrogate, invalid_utf8 or undecodable.",
            nullable=False,
        ),
        described("detail", pa.string(), "What was wrong, in a sentence.", nullable=False),
        described("raw_bytes", pa.binary(), "The item exactly as the API sent it.", nullable=False),
        described("fetched_at", UTC_US, "When the page arrived (UTC).", nullable=False),
    ]
)


@dataclass(frozen=True)
class ItemProblem:
    """Why one item of a page cannot get typed columns."""

    position: int
    field: str | None
    reason: str
    detail: str
    tracking_id: str | None = None


def quarantine_table(
    problems: list[ItemProblem], raw_items: Sequence[bytes | msgspec.Raw], extraction_id: str, page: int,
    fetched_at: datetime,
) -> pa.Table:
    """The quarantined items of one page, in QUARANTINE_SCHEMA, in page order."""
    ordered = sorted(problems, key=lambda problem: problem.position)
    return pa.Table.from_pydict(
        {
            "extraction_id": [extraction_id] * len(ordered),
            "page": [page] * len(ordered),
            "position": [problem.position for problem in ordered],
            "tracking_id": [problem.tracking_id for problem in ordered],
            "field": [problem.field for problem in ordered],
            "reason": [problem.reason for problem in ordered],
            "detail": [problem.detail for problem in ordered],
            "raw_bytes": [bytes(raw_items[problem.position]) for problem in ordered],
            "fetched_at": [fetched_at] * len(ordered),
        },
        schema=QUARANTINE_SCHEMA,
    )
