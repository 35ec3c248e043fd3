"""Turn one page of list items into Arrow tables with explicit schemas (pure, no I/O).

Which JSON key feeds which typed column is the endpoint's `ItemFields` (api/endpoints/): the same
columns hold the same facts whichever API version sent the page.

Typed columns carry what the models need; `raw_json` carries each item's original bytes, so
fields the schema does not know (or that arrive in unexpected shapes, like `customer_email` as a
list) are never lost. Only the typed fields are decoded; nested checkpoints are left to DuckDB at
load. Columns are built with one comprehension each: the hot path stays columnar.

An item that cannot be typed (no `id`, an `id` that is not a string, a timestamp sent as a number,
not an object, text that is not valid Unicode) goes to the quarantine with the reason, and the rest
of the page lands. Malformed items are rare, so the page is first built column by column as if all
were well; only when a column refuses does the slow path look at items one by one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tm_pipeline.api.endpoints import ItemFields
from tm_pipeline.api.endpoints.v2 import V2_ITEM_FIELDS
from tm_pipeline.api.envelope import replace_lone_surrogates
from tm_pipeline.contracts.fields import UTC_US, described
from tm_pipeline.extract.quarantine import (
    BAD_TIMESTAMP,
    INVALID_UTF8,
    LONE_SURROGATE,
    MISSING,
    NOT_AN_OBJECT,
    QUARANTINE_SCHEMA,
    UNDECODABLE,
    WRONG_TYPE,
    ItemProblem,
    quarantine_table,
)

__all__ = ["TRACKINGS_SCHEMA", "PageTables", "items_to_table"]

TRACKINGS_SCHEMA = pa.schema(
    [
        described("tracking_id", pa.string(), "TrackingMore's 32-hex id of the tracking (`id`).", nullable=False),
        described("tracking_number", pa.string(), "The carrier's tracking number."),
        described("carrier_code", pa.string(), "TrackingMore courier code, e.g. 'ups', 'china-ems'."),
        described("status", pa.string(), "Package status as sent (pending, transit, delivered, ...)."),
        described("substatus", pa.string(), "Sub-status as sent, e.g. 'delivered001'; often null."),
        described("original_country", pa.string(), "Origin country name as sent."),
        described("destination_country", pa.string(), "Destination country name; null when absent."),
        described("created_at", UTC_US, "When the tracking was created at TrackingMore (UTC)."),
        described("updated_at", UTC_US, "Last refresh at TrackingMore (UTC); null if never refreshed."),
        described("archived", pa.bool_(), "Archived flag."),
        described("order_id", pa.string(), "Merchant order id, when given."),
        described("raw_json", pa.string(), "The item exactly as the API sent it (original bytes).", nullable=False),
        described("extraction_id", pa.string(), "The extraction whose page carried this row.", nullable=False),
        described("page", pa.int32(), "The list page it came from.", nullable=False),
        described("fetched_at", UTC_US, "When the page arrived (UTC).", nullable=False),
    ]
)


# The columns an item feeds are the ItemFields the endpoints fill in (api/endpoints/base.py).
_TYPED_COLUMNS = tuple(field.name for field in dataclasses.fields(ItemFields))


@lru_cache(maxsize=8)
def _item_decoder(item_fields: ItemFields) -> msgspec.json.Decoder[Any]:
    """A decoder of only the typed fields, named by landing column and read from the version's keys;
    `Any` because the API is loose about types. Every other key is skipped without building objects."""
    typed = msgspec.defstruct(
        "TypedItem", [(column, Any, None) for column in _TYPED_COLUMNS], rename=item_fields.as_dict(), gc=False
    )
    return msgspec.json.Decoder(typed)

_STRING_FIELDS = (
    "tracking_number", "carrier_code", "status", "substatus", "original_country", "destination_country", "order_id"
)


_TIMESTAMP_FIELDS = ("created_at", "updated_at")
ISO_8601_WITH_OFFSET = "%Y-%m-%dT%H:%M:%S%z"  # '2019-08-20T14:56:55+08:00'
_CONTAINERS = (dict, list)


class _ColumnRefused(Exception):
    """A typed column cannot be built from these items as they are; `field` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


@dataclass(frozen=True)
class PageTables:
    """What one page lands: its typed trackings, and the items that could not be typed."""

    trackings: pa.Table  # TRACKINGS_SCHEMA
    quarantine: pa.Table  # QUARANTINE_SCHEMA, empty for a healthy page


_NO_QUARANTINE = QUARANTINE_SCHEMA.empty_table()


def _text_column(values: list[Any], field: str) -> pa.Array:
    """Strings as sent; the rare number or bool where a string belongs is stringified (the item's
    raw_json keeps what was sent), but an object or array is refused."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        if any(isinstance(v, _CONTAINERS) for v in values):
            raise _ColumnRefused(field, "an object or array where a string belongs") from None
        return pa.array([v if v is None or isinstance(v, str) else str(v) for v in values], pa.string())


def _id_column(ids: list[Any]) -> pa.Array:
    try:
        column = pa.array(ids, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        raise _ColumnRefused("id", "an id that is not a string") from None
    if column.null_count or "" in ids:
        raise _ColumnRefused("id", "an item without id")
    return column


def _iso_timestamps(values: list[Any], field: str) -> pa.Array:
    """ISO-8601 strings with offset ('2019-08-20T14:56:55+08:00') to UTC; null or '' stays null."""
    try:
        texts = pa.array([v if v else None for v in values], pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        raise _ColumnRefused(field, "a value that is not a string") from None
    parsed = pc.strptime(texts, format=ISO_8601_WITH_OFFSET, unit="us", error_is_null=True)
    if parsed.null_count != texts.null_count:
        raise _ColumnRefused(field, "a string that is not an ISO-8601 timestamp with offset")
    return parsed.cast(UTC_US)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, _CONTAINERS):
        raise _ColumnRefused("archived", "an object or array where a boolean belongs")
    return str(value).strip().lower() == "true"


def _raw_json_column(raw_items: list[msgspec.Raw]) -> pa.Array:
    """The items' original bytes as one string array, built from a single joined buffer and offsets
    instead of one bytes object per item, which dominated the cost of a multi-megabyte page."""
    lengths = np.fromiter(map(len, raw_items), dtype=np.int32, count=len(raw_items))
    offsets = np.zeros(len(raw_items) + 1, dtype=np.int32)  # a page is far below 2 GiB
    np.cumsum(lengths, out=offsets[1:])
    column = pa.Array.from_buffers(
        pa.string(), len(raw_items), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(raw_items))]
    )
    try:
        column.validate(full=True)  # UTF-8 and offsets checked, as pa.array would have
    except pa.ArrowInvalid:
        raise _ColumnRefused("raw_json", "bytes that are not UTF-8") from None
    return column


def items_to_table(
    raw_items: list[msgspec.Raw],
    extraction_id: str,
    page: int,
    fetched_at: datetime,
    item_fields: ItemFields = V2_ITEM_FIELDS,
) -> PageTables:
    """One page of items (each the exact JSON bytes sent) as typed trackings plus a quarantine;
    `item_fields` says which key of an item feeds which column (the endpoint's).

    Raises ValueError naming the page and the column only if a column still refuses after the
    malformed items were set aside (a case the per-item diagnosis does not know).
    """
    items, problems = _decode_items(raw_items, _item_decoder(item_fields), item_fields)
    if not problems:
        try:
            return PageTables(_typed_table(items, raw_items, extraction_id, page, fetched_at), _NO_QUARANTINE)
        except _ColumnRefused:
            pass  # rare: find the items to set aside, one by one
    problems = {**_diagnose(items, raw_items, item_fields), **problems}
    kept = [position for position in range(len(raw_items)) if position not in problems]
    try:
        trackings = _typed_table(
            [items[i] for i in kept], [raw_items[i] for i in kept], extraction_id, page, fetched_at
        )
    except _ColumnRefused as refused:
        raise ValueError(
            f"page {page}: field {refused.field!r} holds {refused} that no item check caught; "
            "the page was not landed, please report this with the page's ledger row"
        ) from None
    return PageTables(trackings, quarantine_table(list(problems.values()), raw_items, extraction_id, page, fetched_at))


def _typed_table(
    items: list[Any], raw_items: list[msgspec.Raw], extraction_id: str, page: int, fetched_at: datetime
) -> pa.Table:
    """The trackings of well-formed items; raises _ColumnRefused naming the first column that cannot be built."""
    n = len(items)
    columns: dict[str, pa.Array] = {"tracking_id": _id_column([item.tracking_id for item in items])}
    for column in _STRING_FIELDS:
        columns[column] = _text_column([getattr(item, column) for item in items], column)
    for column in _TIMESTAMP_FIELDS:
        columns[column] = _iso_timestamps([getattr(item, column) for item in items], column)
    columns["archived"] = pa.array([_as_bool(item.archived) for item in items], pa.bool_())
    columns["raw_json"] = _raw_json_column(raw_items)
    columns["extraction_id"] = pa.array([extraction_id] * n, pa.string())
    columns["page"] = pa.array([page] * n, pa.int32())
    columns["fetched_at"] = pa.array([fetched_at] * n, UTC_US)
    return pa.Table.from_pydict(columns, schema=TRACKINGS_SCHEMA)


def _decode_items(
    raw_items: list[msgspec.Raw], decoder: msgspec.json.Decoder[Any], item_fields: ItemFields
) -> tuple[list[Any], dict[int, ItemProblem]]:
    """The typed fields of every item; an item that is not a decodable object is None, with its problem."""
    try:
        return [decoder.decode(raw) for raw in raw_items], {}
    except msgspec.DecodeError:
        pass
    items: list[Any] = []
    problems: dict[int, ItemProblem] = {}
    for position, raw in enumerate(raw_items):
        try:
            items.append(decoder.decode(raw))
        except msgspec.ValidationError as exc:  # valid JSON, but not an object
            items.append(None)
            problems[position] = ItemProblem(position, None, NOT_AN_OBJECT, f"the item is not a JSON object: {exc}")
        except msgspec.DecodeError as exc:
            items.append(None)
            problems[position] = _undecodable(position, bytes(raw), exc, item_fields.tracking_id)
    return items, problems


def _undecodable(position: int, raw: bytes, exc: Exception, id_key: str) -> ItemProblem:
    sanitised = replace_lone_surrogates(raw)
    if sanitised is not raw:
        field, tracking_id = _surrogate_field(sanitised, id_key)
        return ItemProblem(
            position, field, LONE_SURROGATE,
            "a string holds a lone UTF-16 surrogate escape such as \\ud800: valid JSON but not text, "
            "which DuckDB's JSON functions refuse too",
            tracking_id,
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return ItemProblem(position, None, INVALID_UTF8, f"the bytes are not UTF-8: {bad}")
    return ItemProblem(position, None, UNDECODABLE, f"the item cannot be decoded: {exc}")


def _surrogate_field(sanitised: bytes, id_key: str) -> tuple[str | None, str | None]:
    """The top-level field holding the (now replaced) lone surrogate, and the item's id if it is clean."""
    try:
        document = msgspec.json.decode(sanitised)
    except msgspec.DecodeError:
        return None, None
    if not isinstance(document, dict):
        return None, None
    tracking_id = document.get(id_key)
    tracking_id = tracking_id if isinstance(tracking_id, str) and tracking_id and "\ufffd" not in tracking_id else None
    for key, value in document.items():
        if "\ufffd" in key or "\ufffd" in msgspec.json.encode(value).decode():
            return key, tracking_id
    return None, tracking_id


_JSON_TYPES = {
    str: "a string", int: "a number", float: "a number", bool: "a boolean", dict: "an object", list: "an array"
}


def _sent_as(value: Any) -> str:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
    return f"{_JSON_TYPES.get(type(value), type(value).__name__)} ({shown})"


def _diagnose(items: list[Any], raw_items: list[msgspec.Raw], item_fields: ItemFields) -> dict[int, ItemProblem]:
    """The slow path: each decoded item checked against the rules the columns apply."""
    unparsable = {field: _unparsable_timestamps(items, field) for field in _TIMESTAMP_FIELDS}
    problems = {}
    for position, item in enumerate(items):
        if item is None:
            continue  # already a problem from decoding
        found = _item_problem(item, position, unparsable, item_fields.as_dict())
        if found is None:
            try:
                bytes(raw_items[position]).decode("utf-8")
            except UnicodeDecodeError as bad:
                found = (None, INVALID_UTF8, f"the bytes are not UTF-8: {bad}")
        if found is not None:
            tracking_id = item.tracking_id if isinstance(item.tracking_id, str) and item.tracking_id else None
            problems[position] = ItemProblem(position, *found, tracking_id=tracking_id)
    return problems


def _item_problem(
    item: Any, position: int, unparsable: dict[str, set[int]], key_of: dict[str, str]
) -> tuple[str | None, str, str] | None:
    """(field, reason, detail) of the first rule this item breaks, or None; `field` is the item's
    key as sent (`key_of` maps a landing column to it)."""
    id_key = key_of["tracking_id"]
    if item.tracking_id is None or item.tracking_id == "":
        return id_key, MISSING, f"no '{id_key}': a tracking cannot be landed without its key"
    if not isinstance(item.tracking_id, str):
        return id_key, WRONG_TYPE, f"'{id_key}' is {_sent_as(item.tracking_id)}, expected a string"
    for column in _STRING_FIELDS:
        value = getattr(item, column)
        if isinstance(value, _CONTAINERS):
            key = key_of[column]
            return key, WRONG_TYPE, f"'{key}' is {_sent_as(value)}, expected a string"
    for column in _TIMESTAMP_FIELDS:
        value = getattr(item, column)
        key = key_of[column]
        if not value:
            continue
        if not isinstance(value, str):
            return key, WRONG_TYPE, f"'{key}' is {_sent_as(value)}, expected an ISO-8601 string"
        if position in unparsable[column]:
            return key, BAD_TIMESTAMP, f"'{key}' is {value[:40]!r}, not an ISO-8601 timestamp with offset"
    if isinstance(item.archived, _CONTAINERS):
        key = key_of["archived"]
        return key, WRONG_TYPE, f"'{key}' is {_sent_as(item.archived)}, expected a boolean"
    return None


def _unparsable_timestamps(items: list[Any], field: str) -> set[int]:
    """Positions whose value is a non-empty string the timestamp column would not parse (column-wise)."""
    texts = [getattr(item, field) if item is not None else None for item in items]
    strings = pa.array([v if isinstance(v, str) and v else None for v in texts], pa.string())
    parsed = pc.strptime(strings, format=ISO_8601_WITH_OFFSET, unit="us", error_is_null=True)
    failed = pc.and_(strings.is_valid(), parsed.is_null())
    return set(np.flatnonzero(failed.to_numpy(zero_copy_only=False)).tolist())
