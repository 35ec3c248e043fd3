"""The durable record of registration: what was about to be sent, and what each shipment's answer was.

    <lake>/registrations/intents/batch-<batch_id>.parquet    written (atomically) BEFORE a batch is sent
    <lake>/registrations/results/batch-<batch_id>.parquet    its per-shipment results, written after
    <lake>/registrations/results/refused-<run_tag>.parquet   rows refused before sending, per run

An intent without its results file is a batch whose outcome is unknown (the process died, or the
answer was lost): the next run settles it by looking the numbers up (the list endpoint filtered by
`numbers`), never by sending them again blindly. Results are history: `raw.registrations` loads
them all, and the checks judge the latest run.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tm_pipeline.api.create_codes import REFUSED_FOR_GOOD, REGISTERED, Result
from tm_pipeline.contracts.fields import UTC_US, described

INTENT_SCHEMA = pa.schema(
    [
        described("batch_id", pa.string(), "The create call this shipment was about to be sent in."),
        described("run_id", pa.string(), "The Dagster run that sent it."),
        described("source", pa.string(), "The shipments input, as configured."),
        described("source_row", pa.int32(), "Row of the input (1 = first data row)."),
        described("tracking_number", pa.string(), "As sent."),
        described("carrier_code", pa.string(), "As sent."),
        described("carrier_from", pa.string(), "`input` or `detected`."),
        described("intended_at", UTC_US, "When the intent was recorded, before sending."),
    ]
)

REGISTRATIONS_SCHEMA = pa.schema(
    [
        described("run_id", pa.string(), "The Dagster run that recorded the result."),
        described("batch_id", pa.string(), "The create call; null for rows refused before sending."),
        described("source", pa.string(), "The shipments input, as configured."),
        described("source_row", pa.int32(), "Row of the input (1 = first data row; in a CSV, line 2)."),
        described("tracking_number", pa.string(), "As read (trimmed); null when blank."),
        described("carrier_code", pa.string(), "As given (lower-cased) or detected; null when neither."),
        described("carrier_from", pa.string(), "`input`, `detected`, or null when there is none."),
        described("result", pa.string(), "created, already_exists, invalid_number, quota_exhausted, ... "
                  "(tm_pipeline/api/create_codes.py)."),
        described("severity", pa.string(), "ok, warn (fix the row) or stop (the account cannot create more)."),
        described("code", pa.int32(), "The API's code for this shipment; null when decided before sending."),
        described("field", pa.string(), "The field that was wrong, if one was."),
        described("reason", pa.string(), "What happened, in a sentence (source row, value, API message)."),
        described("what_to_do", pa.string(), "The advice for this result."),
        described("tracking_id", pa.string(), "TrackingMore's id of the created tracking, when known."),
        described("settled_by", pa.string(), "`answer` (the create call's answer), `lookup` (an unknown "
                  "outcome settled by looking the number up), `earlier` (refused for good by an earlier "
                  "run's call: not sent again) or `local` (decided before sending)."),
        described("recorded_at", UTC_US, "When this result was written."),
    ]
)


@dataclass(frozen=True)
class Intent:
    batch_id: str
    source_row: int
    tracking_number: str
    carrier_code: str
    carrier_from: str
    source: str


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across processes: `<UTC timestamp>-<random>`."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


class RegistrationRecord:
    """Reads and writes `<lake>/registrations/`; every file is written to a temporary name and renamed."""

    def __init__(self, lake_root: Path) -> None:
        self.root = Path(lake_root) / "registrations"

    @property
    def results_glob(self) -> str:
        return str(self.root / "results" / "*.parquet")

    def intent_path(self, batch_id: str) -> Path:
        return self.root / "intents" / f"batch-{batch_id}.parquet"

    def results_path(self, batch_id: str) -> Path:
        return self.root / "results" / f"batch-{batch_id}.parquet"

    def write_intents(self, run_id: str, intents: list[Intent]) -> None:
        now = datetime.now(timezone.utc)
        table = pa.Table.from_pylist(
            [
                {"batch_id": i.batch_id, "run_id": run_id, "source": i.source, "source_row": i.source_row,
                 "tracking_number": i.tracking_number, "carrier_code": i.carrier_code,
                 "carrier_from": i.carrier_from, "intended_at": now}
                for i in intents
            ],
            schema=INTENT_SCHEMA,
        )
        _write(self.intent_path(intents[0].batch_id), table)

    def write_results(self, name: str, rows: list[dict[str, object]]) -> None:
        """`name` is the file's stem (`batch-<id>` or `refused-<run tag>`); rows follow REGISTRATIONS_SCHEMA."""
        now = datetime.now(timezone.utc)
        table = pa.Table.from_pylist([{**row, "recorded_at": now} for row in rows], schema=REGISTRATIONS_SCHEMA)
        _write(self.root / "results" / f"{name}.parquet", table)

    def unsettled(self) -> list[Intent]:
        """Intents whose batch has no results file: sent or not, nobody knows yet."""
        pending = []
        for path in sorted((self.root / "intents").glob("batch-*.parquet")):
            batch_id = path.stem.removeprefix("batch-")
            if self.results_path(batch_id).exists():
                continue
            for row in pq.read_table(path).to_pylist():
                pending.append(
                    Intent(batch_id, row["source_row"], row["tracking_number"], row["carrier_code"],
                           row["carrier_from"], row["source"])
                )
        return pending

    def results(self) -> pa.Table:
        files = sorted((self.root / "results").glob("*.parquet"))
        if not files:
            return REGISTRATIONS_SCHEMA.empty_table()
        return pa.concat_tables([pq.read_table(path, schema=REGISTRATIONS_SCHEMA) for path in files])

    def final_answers(self) -> tuple[dict[tuple[str, str], dict[str, object]], set[str]]:
        """What is settled for good, so it is never sent again: the latest result of every (number,
        carrier) pair that TrackingMore has or refused for good, and the bare numbers it has."""
        results = self.results().sort_by("recorded_at").to_pylist()
        final = {result.value for result in REGISTERED | REFUSED_FOR_GOOD}
        registered = {result.value for result in REGISTERED}
        pairs: dict[tuple[str, str], dict[str, object]] = {}
        numbers: set[str] = set()
        for row in results:
            number, carrier = row["tracking_number"], row["carrier_code"]
            if number is None or carrier is None or row["settled_by"] == "local":
                continue  # refused before sending: the pipeline judges those rows again each run
            if row["result"] in final:
                pairs[(number, carrier)] = row
            else:
                pairs.pop((number, carrier), None)  # a later quota refusal or unknown outcome reopens it
            if row["result"] in registered:
                numbers.add(number)
        return pairs, numbers


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + f".tmp-{os.getpid()}")
    pq.write_table(table, temporary)
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())  # the rename must never publish a file whose bytes are not on disk
    os.replace(temporary, path)


def result_row(
    run_id: str,
    source: str,
    source_row: int | None,
    tracking_number: str | None,
    carrier_code: str | None,
    carrier_from: str | None,
    result: Result,
    severity: str,
    reason: str,
    what_to_do: str,
    *,
    batch_id: str | None = None,
    code: int | None = None,
    field: str | None = None,
    tracking_id: str | None = None,
    settled_by: str = "local",
) -> dict[str, object]:
    return {
        "run_id": run_id, "batch_id": batch_id, "source": source, "source_row": source_row,
        "tracking_number": tracking_number, "carrier_code": carrier_code, "carrier_from": carrier_from,
        "result": result.value, "severity": severity, "code": code, "field": field, "reason": reason,
        "what_to_do": what_to_do, "tracking_id": tracking_id, "settled_by": settled_by,
    }
