"""The ledger: one row per HTTP attempt, the evidence the data-quality checks judge.

Rows never hold the API key: params are recorded as sent in the query string, and the key only
ever travels in a header.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime

import pyarrow as pa

from tm_pipeline.contracts.fields import UTC_US, described

LEDGER_SCHEMA = pa.schema(
    [
        described("run_id", pa.string(), "The Dagster run that made the call.", nullable=False),
        described("extraction_id", pa.string(), "The extraction the call belongs to.", nullable=False),
        described("window_key", pa.string(), "full, updated, created or created_day=<date>.", nullable=False),
        described("call_seq", pa.int32(), "Order of the call in its extraction.", nullable=False),
        described("requested_at", UTC_US, "When the attempt was sent (UTC).", nullable=False),
        described("endpoint", pa.string(), "API path, e.g. /trackings/get.", nullable=False),
        described("page", pa.int32(), "List page requested."),
        described("params_json", pa.string(), "Query parameters sent (never the key)."),
        described("http_status", pa.int32(), "HTTP status; null when no response arrived."),
        described("meta_code", pa.int32(), "meta.code; null when the body was not an envelope."),
        described("meta_type", pa.string(), "v2 meta.type (v4 sends none: null)."),
        described("meta_message", pa.string(), "meta.message."),
        described(
            "failure", pa.string(),
            "Why there was no envelope: timeout, connection, truncated, not_json, refused, dns, proxy or not_envelope.",
        ),
        described("attempt", pa.int32(), "1 for the first try of a page, 2+ for retries.", nullable=False),
        described("wait_before_s", pa.float64(), "Seconds the pacer waited before this attempt."),
        described("latency_ms", pa.float64(), "Milliseconds to the whole response."),
        described("response_bytes", pa.int64(), "Body size in bytes."),
        described("rows", pa.int32(), "Trackings in the page."),
        described("total_reported", pa.int64(), "The `total` the API reported for the query."),
        # Last, and nullable: ledger parts written before it lack the column (they are v2 calls).
        described("api_version", pa.string(), "The API version spoken (v2, v4): which code table judges meta_code."),
    ]
)


@dataclass
class CallRecord:
    run_id: str
    extraction_id: str
    window_key: str
    call_seq: int
    requested_at: datetime
    endpoint: str
    api_version: str
    page: int | None
    params_json: str
    http_status: int | None
    meta_code: int | None
    meta_type: str | None
    meta_message: str | None
    failure: str | None
    attempt: int
    wait_before_s: float
    latency_ms: float
    response_bytes: int
    rows: int | None
    total_reported: int | None


def calls_table(records: list[CallRecord]) -> pa.Table:
    return pa.Table.from_pylist([asdict(r) for r in records], schema=LEDGER_SCHEMA)


class Ledger:
    """Numbers and tallies one extraction's calls, and keeps those not landed with a page.

    A page's calls land with the page itself; calls that produced no page (a failed run's last
    attempts) wait in `unlanded` for the run's final commit. `run_id` is the Dagster run that made
    the calls (what the checks judge); `extraction_id` the extraction, shared by a resumed run;
    `call_seq` numbers an extraction's calls across all its runs. Thread-safe: a prefetching
    thread records calls while the main thread commits pages.
    """

    def __init__(self, run_id: str, extraction_id: str, window_key: str, calls_before: int = 0) -> None:
        self.run_id = run_id
        self.extraction_id = extraction_id
        self.window_key = window_key
        self.calls = calls_before
        self.codes: dict[str, int] = {}
        self._unlanded: list[CallRecord] = []
        self._lock = threading.Lock()

    def next_seq(self) -> int:
        with self._lock:
            self.calls += 1
            return self.calls

    def count(self, record: CallRecord) -> None:
        label = str(record.meta_code if record.meta_code is not None else record.failure or record.http_status)
        with self._lock:
            self.codes[label] = self.codes.get(label, 0) + 1

    def keep_unlanded(self, records: list[CallRecord]) -> None:
        with self._lock:
            self._unlanded.extend(records)

    def drain_unlanded(self) -> pa.Table:
        with self._lock:
            records, self._unlanded = self._unlanded, []
        return calls_table(records)
