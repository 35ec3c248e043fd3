"""What each answer to one shipment of a create call means for a registration: a table, as data.

`status_codes.py` judges whole calls (does the run go on?); this table judges one *item*: a batch
call can succeed while some of its shipments are refused, each with its own code in
`data.errors` (§2, §6). Rows the pipeline refuses before sending (blank number, malformed carrier,
duplicate in the file, no courier detected) are judged by the same table, without a code, so every
shipment of the input ends as exactly one `result` with a severity and what to do.

Severity: `ok` (TrackingMore has the tracking), `warn` (that row needs fixing in the input; the
others go on), `stop` (the account cannot create more: the run stops with the advice).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    OK = "ok"
    WARN = "warn"
    STOP = "stop"


class Result(str, Enum):
    """One shipment's outcome, as written to `raw.registrations.result`."""

    CREATED = "created"
    ALREADY_EXISTS = "already_exists"
    MISSING_NUMBER = "missing_number"
    INVALID_NUMBER = "invalid_number"
    INVALID_CARRIER = "invalid_carrier"
    BAD_CARRIER_FORM = "bad_carrier_form"
    DUPLICATE_IN_INPUT = "duplicate_in_input"
    CARRIER_UNDETECTED = "carrier_undetected"
    CARRIER_AMBIGUOUS = "carrier_ambiguous"
    BALANCE_INSUFFICIENT = "balance_insufficient"
    QUOTA_EXHAUSTED = "quota_exhausted"
    REFUSED = "refused"  # any other per-item code: a request the pipeline built wrongly
    NOT_SENT = "not_sent"  # the run stopped before this shipment's batch was sent


@dataclass(frozen=True)
class ItemJudgement:
    result: Result
    codes: tuple[int, ...]  # the v2 meta codes that mean it; () when the pipeline decides before sending
    severity: Severity
    meaning: str
    what_to_do: str = ""


_FIX_ROW = "Fix the row in the shipments input; the next run sends it (rows already registered are never sent again)."
_BILLING = (
    "The account cannot create more trackings: top up the TrackingMore balance or upgrade the plan, then run "
    "again. Shipments not created yet are sent by the next run; created ones are never sent twice."
)

ITEM_TABLE: tuple[ItemJudgement, ...] = (
    ItemJudgement(Result.CREATED, (200, 201), Severity.OK, "created in TrackingMore"),
    ItemJudgement(Result.ALREADY_EXISTS, (4016,), Severity.OK, "TrackingMore already had this tracking"),
    ItemJudgement(Result.MISSING_NUMBER, (4013,), Severity.WARN, "tracking_number missing or blank", _FIX_ROW),
    ItemJudgement(Result.INVALID_NUMBER, (4014,), Severity.WARN, "tracking_number refused as invalid", _FIX_ROW),
    ItemJudgement(Result.INVALID_CARRIER, (4015,), Severity.WARN, "carrier_code unknown to TrackingMore",
                  "Use a code from GET /v2/carriers (e.g. `ups`, `china-post`), or leave it blank to detect it."),
    ItemJudgement(Result.BAD_CARRIER_FORM, (), Severity.WARN,
                  "carrier_code is not a courier code (lower-case letters, digits and dashes)", _FIX_ROW),
    ItemJudgement(Result.DUPLICATE_IN_INPUT, (), Severity.WARN,
                  "the tracking number appears earlier in the same input; only the first row is sent",
                  "Remove the repeated row (the first one is registered)."),
    ItemJudgement(Result.CARRIER_UNDETECTED, (4032,), Severity.WARN, "no carrier given and none could be detected",
                  "Fill carrier_code for this row."),
    ItemJudgement(Result.CARRIER_AMBIGUOUS, (), Severity.WARN,
                  "no carrier given and detection named several; the pipeline does not guess",
                  "Fill carrier_code for this row with one of the candidates named in `reason`."),
    ItemJudgement(Result.BALANCE_INSUFFICIENT, (4019,), Severity.STOP, "balance insufficient", _BILLING),
    ItemJudgement(Result.QUOTA_EXHAUSTED, (4021,), Severity.STOP, "quota exhausted or trial over", _BILLING),
    ItemJudgement(Result.REFUSED, (), Severity.WARN, "refused with a code this table does not list",
                  "Check `code` and `reason`; if the request was malformed, report it with the row."),
    ItemJudgement(Result.NOT_SENT, (), Severity.WARN, "not sent: the run stopped before its batch",
                  "Nothing to fix in the row: the next run sends it once the cause of the stop is fixed."),
)

BY_RESULT: dict[Result, ItemJudgement] = {judgement.result: judgement for judgement in ITEM_TABLE}
_BY_CODE: dict[int, ItemJudgement] = {code: judgement for judgement in ITEM_TABLE for code in judgement.codes}

REGISTERED = frozenset({Result.CREATED, Result.ALREADY_EXISTS})
"""Results after which TrackingMore has the tracking: such a number is never sent again."""

REFUSED_FOR_GOOD = frozenset({Result.MISSING_NUMBER, Result.INVALID_NUMBER, Result.INVALID_CARRIER, Result.REFUSED})
"""API refusals of the shipment itself: the same number and carrier would be refused again, so they
are not sent again (the earlier answer is recorded once more, so the check keeps warning) until
the row changes. Quota and balance refusals are not among them: those shipments are sent again."""


def judge_item_code(code: int) -> ItemJudgement:
    """The judgement of a per-item code; codes the table does not list are `refused` (WARN)."""
    return _BY_CODE.get(code, BY_RESULT[Result.REFUSED])
