"""Read the shipments to register and sort them into rows to send and rows refused, with reasons.

The input is where an order system's shipments land: a CSV or Parquet file, or a DuckDB table
named `path.duckdb:schema.table`. It needs a `tracking_number` column; `carrier_code` and the
optional create fields of §2 (`order_id`, `title`, `customer_email`, ...) are used when present,
other columns are ignored (and named, so a typo in a header is visible). Every value is read as
text, so a number such as `0012345678` keeps its leading zeros.

A bad row never stops the run: it becomes a `Refusal` naming the source, the row (1 = the first
data row; in a CSV that is line 2) and the field, and the other rows go on.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tm_pipeline.api.create_codes import Result
from tm_pipeline.api.errors import ConfigurationError

NUMBER_COLUMN = "tracking_number"
CARRIER_COLUMN = "carrier_code"
# The optional fields of a v2 create body (§2) the input may carry, sent as they are.
OPTIONAL_FIELDS = (
    "order_id",
    "order_create_time",
    "title",
    "logistics_channel",
    "customer_name",
    "customer_email",
    "customer_phone",
    "destination_code",
    "tracking_ship_date",
    "tracking_postal_code",
    "comment",
)
_CARRIER_FORM = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$")
SOURCE_FORMS = "a .csv or .parquet file, or a DuckDB table as path.duckdb:schema.table"


@dataclass(frozen=True)
class InputRow:
    row: int  # 1 = the first data row
    values: dict[str, str]


@dataclass(frozen=True)
class ShipmentInput:
    source: str  # as configured, for messages and the results
    columns: list[str]
    rows: list[InputRow]

    @property
    def ignored_columns(self) -> list[str]:
        known = {NUMBER_COLUMN, CARRIER_COLUMN, *OPTIONAL_FIELDS}
        return [name for name in self.columns if name not in known]


@dataclass(frozen=True)
class Shipment:
    """A row fit to send: a number, a carrier (None: to be detected) and the optional fields given."""

    source_row: int
    tracking_number: str
    carrier_code: str | None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """A row the pipeline will not send, and why."""

    source_row: int
    tracking_number: str | None
    carrier_code: str | None
    result: Result
    field: str
    reason: str


def read_shipments(source: str) -> ShipmentInput:
    """The rows of `source` (see the module docstring); a ConfigurationError says what is wrong with it."""
    path_text, table = source, ""
    if ".duckdb:" in source:
        split_at = source.rindex(".duckdb:") + len(".duckdb")
        path_text, table = source[:split_at], source[split_at + 1 :]
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ConfigurationError(
            f"TM_SHIPMENTS_FILE: {path} does not exist or is not a file. Point it at {SOURCE_FORMS}."
        )
    if table:
        columns, records = _read_duckdb(path, table, source)
    elif path.suffix.lower() == ".csv":
        columns, records = _read_csv(path)
    elif path.suffix.lower() == ".parquet":
        columns, records = _read_parquet(path)
    else:
        raise ConfigurationError(
            f"TM_SHIPMENTS_FILE: cannot read {path} ({path.suffix or 'no suffix'}): use {SOURCE_FORMS}."
        )
    if NUMBER_COLUMN not in columns:
        raise ConfigurationError(
            f"TM_SHIPMENTS_FILE: {source} has no `{NUMBER_COLUMN}` column (columns: {', '.join(columns) or 'none'}). "
            f"Name the tracking-number column `{NUMBER_COLUMN}` (and the courier column `{CARRIER_COLUMN}`)."
        )
    rows = [InputRow(number, values) for number, values in enumerate(records, start=1)]
    return ShipmentInput(source, columns, rows)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [name.strip() for name in reader.fieldnames or []]
            records = [
                {name: (value or "") for name, value in zip(columns, raw.values(), strict=False)
                 if isinstance(value, str)}
                for raw in reader
            ]
    except UnicodeDecodeError as error:
        raise ConfigurationError(
            f"TM_SHIPMENTS_FILE: {path} is not UTF-8 text ({error}). Save it as UTF-8 CSV."
        ) from None
    return columns, records


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _read_parquet(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for a file that is not Parquet
        raise ConfigurationError(f"TM_SHIPMENTS_FILE: {path} is not a readable Parquet file ({error}).") from None
    columns = list(table.column_names)
    return columns, [{name: _text(value) for name, value in record.items()} for record in table.to_pylist()]


def _read_duckdb(path: Path, table: str, source: str) -> tuple[list[str], list[dict[str, str]]]:
    if not _TABLE_NAME.match(table):
        raise ConfigurationError(
            f"TM_SHIPMENTS_FILE: {table!r} in {source} is not a table name; write path.duckdb:schema.table."
        )
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            cursor = connection.execute(f"SELECT * FROM {table}")
            columns = [column[0] for column in cursor.description]
            records = [
                {name: _text(value) for name, value in zip(columns, row, strict=True)} for row in cursor.fetchall()
            ]
    except duckdb.Error as error:
        raise ConfigurationError(f"TM_SHIPMENTS_FILE: cannot read table {table} from {path}: {error}") from None
    return columns, records


def sort_rows(rows: Sequence[InputRow]) -> tuple[list[Shipment], list[Refusal]]:
    """Rows to send, and rows refused (blank number, malformed carrier, repeated number) with reasons."""
    shipments: list[Shipment] = []
    refusals: list[Refusal] = []
    first_row_of: dict[str, int] = {}
    for row in rows:
        number = row.values.get(NUMBER_COLUMN, "").strip()
        carrier = row.values.get(CARRIER_COLUMN, "").strip().lower() or None
        if not number:
            refusals.append(Refusal(row.row, None, carrier, Result.MISSING_NUMBER, NUMBER_COLUMN,
                                    f"row {row.row}: tracking_number is blank"))
            continue
        if carrier is not None and not _CARRIER_FORM.match(carrier):
            refusals.append(Refusal(row.row, number, carrier, Result.BAD_CARRIER_FORM, CARRIER_COLUMN,
                                    f"row {row.row}: carrier_code {carrier!r} is not a courier code "
                                    "(lower-case letters, digits and dashes, e.g. `china-post`)"))
            continue
        if number in first_row_of:
            refusals.append(Refusal(row.row, number, carrier, Result.DUPLICATE_IN_INPUT, NUMBER_COLUMN,
                                    f"row {row.row}: tracking_number {number} repeats row {first_row_of[number]}"))
            continue
        first_row_of[number] = row.row
        fields = {name: row.values[name].strip() for name in OPTIONAL_FIELDS if row.values.get(name, "").strip()}
        shipments.append(Shipment(row.row, number, carrier, fields))
    return shipments, refusals


def batches(shipments: Sequence[Shipment], size: int) -> Iterator[list[Shipment]]:
    for start in range(0, len(shipments), size):
        yield list(shipments[start : start + size])
