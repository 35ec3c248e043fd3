"""Register shipments: settle unknown outcomes, sort the input, detect couriers, send new ones in batches.

Order of work, each step recorded before the next:
1. Intents left without results by an earlier run are settled by looking their numbers up.
2. The input is read and sorted; refused rows are recorded with their reasons.
3. Rows without a carrier get one from `POST /carriers/detect` when it names exactly one (numbers
   TrackingMore is known to have are not even detected).
4. Rows TrackingMore is known to have (an earlier `created` or `already_exists`) are skipped, and
   rows it refused for good (invalid number or carrier) are recorded again without sending: a
   number is never sent twice with the same carrier, unless its earlier answer was quota/balance.
5. The rest go in batches of at most the API's batch size: the intent is written, the batch sent,
   and every shipment's answer written as a result. A lost answer (timeout, reset, 5xx) is settled
   by a lookup; only numbers the lookup proves absent are sent again.
6. A quota or balance refusal stops the run after its results are written (exit code 3).

Requests are spaced by pacers: the create pacer for detect and batch calls (the account's rate
for endpoints other than the list, §7), the list pacer for lookups.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from tm_pipeline.api.client import TrackingMoreClient
from tm_pipeline.api.create_codes import BY_RESULT, REGISTERED, ItemJudgement, Result, Severity, judge_item_code
from tm_pipeline.api.create_requests import V2_CREATE, CreateApi, ItemAnswer
from tm_pipeline.api.errors import EXIT_API_REFUSED, PipelineError, TransientApiError
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.register.calls import PacedCalls
from tm_pipeline.register.record import Intent, RegistrationRecord, new_batch_id, result_row
from tm_pipeline.register.shipments import Refusal, Shipment, batches, read_shipments, sort_rows

log = logging.getLogger(__name__)


class RegistrationStoppedError(PipelineError):
    """The account refused to create more (quota or balance): nothing more can be registered until
    someone tops it up. The results of everything sent so far are recorded."""

    exit_code = EXIT_API_REFUSED


@dataclass
class RegistrationSummary:
    source: str
    rows: int = 0
    results: Counter[str] = field(default_factory=Counter)  # result -> shipments, this run
    skipped_registered: int = 0  # rows TrackingMore was already known to have: not sent
    settled_from_earlier: int = 0  # shipments of earlier unknown outcomes settled by lookup
    create_calls: int = 0
    detect_calls: int = 0
    lookup_calls: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    first_problems: list[dict[str, object]] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return self.results[Result.CREATED.value] + self.results[Result.ALREADY_EXISTS.value]


@dataclass
class _Pending:
    shipment: Shipment
    carrier_code: str
    carrier_from: str


ProgressReport = Callable[[str], None]
DETECT_PROGRESS_EVERY = 20


class Registrar:
    """One registration run over one client; not thread-safe (requests are sequential)."""

    def __init__(
        self,
        client: TrackingMoreClient,
        create_pacer: Pacer,
        lookup_pacer: Pacer,
        record: RegistrationRecord,
        run_id: str,
        policy: RetryPolicy | None = None,
        api: CreateApi = V2_CREATE,
        batch_size: int | None = None,
        progress: ProgressReport = log.info,
    ) -> None:
        self.client = client
        self.create_pacer = create_pacer
        self.lookup_pacer = lookup_pacer
        self.record = record
        self.run_id = run_id
        self.policy = policy or RetryPolicy()
        self.api = api
        self.batch_size = min(batch_size or api.max_batch_items, api.max_batch_items)
        self.progress = progress
        self.calls = PacedCalls(client, self.policy)
        self.last_summary = RegistrationSummary("")  # what the latest register() did, also when it raised

    # --- the run -----------------------------------------------------------------------------

    def register(self, source: str) -> RegistrationSummary:
        summary = self.last_summary = RegistrationSummary(source)
        self._settle_earlier(summary)
        shipment_input = read_shipments(source)
        summary.rows = len(shipment_input.rows)
        summary.ignored_columns = shipment_input.ignored_columns
        shipments, refusals = sort_rows(shipment_input.rows)
        settled_pairs, registered_numbers = self.record.final_answers()
        undetected = []
        for shipment in shipments:
            if shipment.carrier_code is None and shipment.tracking_number in registered_numbers:
                summary.skipped_registered += 1  # no detect call for a number TrackingMore has
            else:
                undetected.append(shipment)
        detected, detection_refusals = self._detect_carriers(undetected, summary)
        refusals += detection_refusals
        pending, refused_earlier = [], []
        for candidate in detected:
            earlier = settled_pairs.get((candidate.shipment.tracking_number, candidate.carrier_code))
            if earlier is None:
                pending.append(candidate)
            elif earlier["result"] in {result.value for result in REGISTERED}:
                summary.skipped_registered += 1
            else:
                refused_earlier.append((candidate, earlier))
        self.progress(
            f"{summary.rows} rows in {source}: {len(refusals)} refused, {len(refused_earlier)} refused by the API "
            f"earlier (not sent again), {summary.skipped_registered} already registered (not sent again), "
            f"{len(pending)} to register"
        )
        self._record_refusals(source, refusals, refused_earlier, summary)
        stop: ItemJudgement | None = None
        batch_list = list(batches([p.shipment for p in pending], self.batch_size))
        by_row = {p.shipment.source_row: p for p in pending}
        for number, batch in enumerate(batch_list, start=1):
            if stop is not None:
                self._record_not_sent(source, [by_row[s.source_row] for s in batch], stop, summary)
                continue
            stop = self._send_batch(source, [by_row[s.source_row] for s in batch], summary)
            self.progress(
                f"batch {number}/{len(batch_list)}: {dict(summary.results)} so far"
            )
        if stop is not None:
            raise RegistrationStoppedError(
                f"TrackingMore refused to create trackings from {source}: {stop.meaning} (code "
                f"{'/'.join(str(c) for c in stop.codes)}, API key {self.client.key_fingerprint}). "
                f"{summary.results[stop.result.value]} refused, {summary.sent} registered before it. "
                f"What to do: {stop.what_to_do}"
            )
        return summary

    # --- 1. earlier unknown outcomes ----------------------------------------------------------

    def _settle_earlier(self, summary: RegistrationSummary) -> None:
        unsettled = self.record.unsettled()
        by_batch: dict[str, list[Intent]] = {}
        for intent in unsettled:
            by_batch.setdefault(intent.batch_id, []).append(intent)
        for batch_id, intents in by_batch.items():
            self.progress(f"batch {batch_id} of an earlier run has no recorded answer: looking its "
                          f"{len(intents)} numbers up instead of sending them again")
            found = self._lookup([i.tracking_number for i in intents], summary)
            rows = []
            for intent in intents:
                tracking_id = found.get((intent.tracking_number, intent.carrier_code))
                if tracking_id is not None:
                    judgement = BY_RESULT[Result.CREATED]
                    reason = f"row {intent.source_row}: the earlier call's answer was lost; the lookup found it created"
                else:
                    judgement = BY_RESULT[Result.NOT_SENT]
                    reason = (f"row {intent.source_row}: the earlier call's answer was lost and the lookup did not "
                              "find it: it was not created, and is sent again if still in the input")
                rows.append(
                    result_row(self.run_id, intent.source, intent.source_row, intent.tracking_number,
                               intent.carrier_code, intent.carrier_from, judgement.result, judgement.severity.value,
                               reason, judgement.what_to_do, batch_id=batch_id, tracking_id=tracking_id or None,
                               settled_by="lookup")
                )
                summary.settled_from_earlier += 1
            self.record.write_results(f"batch-{batch_id}", rows)

    # --- 4. couriers ----------------------------------------------------------------------------

    def _detect_carriers(
        self, shipments: list[Shipment], summary: RegistrationSummary
    ) -> tuple[list[_Pending], list[Refusal]]:
        pending, refusals = [], []
        to_detect = sum(1 for shipment in shipments if shipment.carrier_code is None)
        for shipment in shipments:
            if shipment.carrier_code is not None:
                pending.append(_Pending(shipment, shipment.carrier_code, "input"))
                continue
            if summary.detect_calls % DETECT_PROGRESS_EVERY == 0:  # one call per row: a long wait says so
                self.progress(f"detecting couriers: {summary.detect_calls} of {to_detect} rows without carrier_code")
            summary.detect_calls += 1
            attempt = self.calls.call(partial(self.client.post, self.api.detect_path,
                                         {"tracking_number": shipment.tracking_number}),
                                 self.create_pacer, f"POST {self.api.detect_path} for row {shipment.source_row}",
                                 accept=(4032,))
            candidates = self.api.detected_codes(attempt.data) if attempt.code in (200, 201) else []
            row = f"row {shipment.source_row}: no carrier_code for {shipment.tracking_number}"
            if len(candidates) == 1:
                pending.append(_Pending(shipment, candidates[0], "detected"))
            elif not candidates:
                refusals.append(Refusal(shipment.source_row, shipment.tracking_number, None,
                                        Result.CARRIER_UNDETECTED, "carrier_code", f"{row}, and none was detected"))
            else:
                refusals.append(Refusal(shipment.source_row, shipment.tracking_number, None,
                                        Result.CARRIER_AMBIGUOUS, "carrier_code",
                                        f"{row}; detection named {len(candidates)}: {', '.join(candidates)}"))
        return pending, refusals

    def _record_refusals(
        self,
        source: str,
        refusals: list[Refusal],
        refused_earlier: list[tuple[_Pending, dict[str, object]]],
        summary: RegistrationSummary,
    ) -> None:
        """Rows not sent this run, recorded again every run they stay in the input, so the check
        keeps pointing at them until they are fixed."""
        rows = []
        for refusal in refusals:
            judgement = BY_RESULT[refusal.result]
            code = judgement.codes[0] if refusal.result is Result.CARRIER_UNDETECTED else None
            carrier_from = "input" if refusal.carrier_code else None
            rows.append(
                result_row(self.run_id, source, refusal.source_row, refusal.tracking_number, refusal.carrier_code,
                           carrier_from, refusal.result, judgement.severity.value, refusal.reason,
                           judgement.what_to_do, code=code, field=refusal.field)
            )
        for candidate, earlier in refused_earlier:
            judgement = BY_RESULT[Result(str(earlier["result"]))]
            earlier_code = earlier["code"] if isinstance(earlier["code"], int) else None
            when = f"{earlier['recorded_at']:%Y-%m-%d %H:%M} UTC"
            rows.append(
                result_row(self.run_id, source, candidate.shipment.source_row, candidate.shipment.tracking_number,
                           candidate.carrier_code, candidate.carrier_from, judgement.result,
                           judgement.severity.value,
                           f"row {candidate.shipment.source_row}: refused by the API at {when} (code {earlier_code}: "
                           f"{judgement.meaning}); not sent again until the row changes",
                           judgement.what_to_do, batch_id=str(earlier["batch_id"]), code=earlier_code,
                           field=_field_of(judgement.result), settled_by="earlier")
            )
        if not rows:
            return
        rows.sort(key=lambda row: int(str(row["source_row"])))
        self.record.write_results(f"refused-{new_batch_id()}", rows)
        self._count(rows, summary)

    def _record_not_sent(
        self, source: str, pending: list[_Pending], stop: ItemJudgement, summary: RegistrationSummary
    ) -> None:
        judgement = BY_RESULT[Result.NOT_SENT]
        rows = [
            result_row(self.run_id, source, p.shipment.source_row, p.shipment.tracking_number, p.carrier_code,
                       p.carrier_from, Result.NOT_SENT, judgement.severity.value,
                       f"row {p.shipment.source_row}: not sent: the run stopped on {stop.result.value}",
                       judgement.what_to_do)
            for p in pending
        ]
        self.record.write_results(f"refused-{new_batch_id()}", rows)
        self._count(rows, summary)

    # --- 5. batches ---------------------------------------------------------------------------

    def _send_batch(self, source: str, pending: list[_Pending], summary: RegistrationSummary) -> ItemJudgement | None:
        """Record the intent, send, record every shipment's result; the stop judgement if one came back."""
        batch_id = new_batch_id()
        self.record.write_intents(
            self.run_id,
            [Intent(batch_id, p.shipment.source_row, p.shipment.tracking_number, p.carrier_code, p.carrier_from,
                    source) for p in pending],
        )
        answers = self._create_until_answered(pending, summary, batch_id)
        rows, stop = [], None
        for p in pending:
            answer, settled_by = answers[p.shipment.tracking_number]
            judgement = judge_item_code(answer.code)
            if judgement.severity is Severity.STOP:
                stop = judgement
            where = f"row {p.shipment.source_row}"
            reason = (f"{where}: {judgement.meaning}" if answer.code == 200
                      else f"{where}: code {answer.code}: {answer.message or judgement.meaning}")
            rows.append(
                result_row(self.run_id, source, p.shipment.source_row, p.shipment.tracking_number, p.carrier_code,
                           p.carrier_from, judgement.result, judgement.severity.value, reason, judgement.what_to_do,
                           batch_id=batch_id, code=answer.code, tracking_id=answer.tracking_id,
                           field=_field_of(judgement.result), settled_by=settled_by)
            )
        self.record.write_results(f"batch-{batch_id}", rows)
        self._count(rows, summary)
        return stop

    def _create_until_answered(
        self, pending: list[_Pending], summary: RegistrationSummary, batch_id: str
    ) -> dict[str, tuple[ItemAnswer, str]]:
        """Every shipment's answer. A call whose outcome is unknown is settled by a lookup, and only
        the numbers the lookup proves absent are sent again (bounded by the retry policy)."""
        answers: dict[str, tuple[ItemAnswer, str]] = {}
        unanswered = list(pending)
        for attempt_number in range(1, self.policy.max_transient_retries + 2):
            body = self.api.body([_create_fields(p) for p in unanswered])
            summary.create_calls += 1
            where = f"POST {self.api.batch_path} (batch {batch_id}, {len(unanswered)} shipments)"
            try:
                attempt = self.calls.call(partial(self.client.post, self.api.batch_path, body),
                                     self.create_pacer, where, retry_transient=False)
            except TransientApiError as unknown:
                log.warning("%s; outcome unknown, looking the numbers up instead of sending them again", unknown)
                unanswered = self._settle_by_lookup(
                    unanswered, summary, answers, "created (answer lost, found by lookup)"
                )
                if not unanswered:
                    return answers
                self.create_pacer.hold_off(self.calls.backoff_s(attempt_number), f"backing off after {unknown}")
                continue
            by_number = {a.tracking_number: a for a in self.api.answers(attempt.data)}
            missing = []
            for p in unanswered:
                answer = by_number.get(p.shipment.tracking_number)
                if answer is None:
                    missing.append(p)
                else:
                    answers[p.shipment.tracking_number] = (answer, "answer")
            if not missing:
                return answers
            # An answer that leaves shipments out is as good as a lost one for them: look them up.
            unanswered = self._settle_by_lookup(missing, summary, answers, "created (found by lookup)")
            if not unanswered:
                return answers
        raise TransientApiError(
            f"POST {self.api.batch_path} (batch {batch_id}): {len(unanswered)} shipments still without an answer "
            f"after {self.policy.max_transient_retries + 1} attempts; rerun later (exit code 4): the intent is "
            "recorded and the next run settles it by lookup."
        )

    def _settle_by_lookup(
        self, pending: list[_Pending], summary: RegistrationSummary,
        answers: dict[str, tuple[ItemAnswer, str]], reason: str,
    ) -> list[_Pending]:
        """Look `pending` up: each one TrackingMore has gets a created answer (with `reason`) in
        `answers`; returns the ones the lookup proves absent, which may be sent again."""
        found = self._lookup([p.shipment.tracking_number for p in pending], summary)
        absent = []
        for p in pending:
            tracking_id = found.get((p.shipment.tracking_number, p.carrier_code))
            if tracking_id is None:
                absent.append(p)
            else:
                answers[p.shipment.tracking_number] = (
                    ItemAnswer(p.shipment.tracking_number, p.carrier_code, 200, reason, tracking_id or None), "lookup"
                )
        return absent

    # --- lookups and the call loop -------------------------------------------------------------

    def _lookup(self, numbers: list[str], summary: RegistrationSummary) -> dict[tuple[str, str], str]:
        found, calls = self.calls.lookup(self.api, self.lookup_pacer, numbers)
        summary.lookup_calls += calls
        return found

    def _count(self, rows: list[dict[str, object]], summary: RegistrationSummary) -> None:
        for row in rows:
            summary.results[str(row["result"])] += 1
            if row["severity"] != Severity.OK.value and len(summary.first_problems) < 10:
                summary.first_problems.append(
                    {name: row[name] for name in ("source_row", "tracking_number", "result", "field", "reason")}
                )


def _create_fields(pending: _Pending) -> dict[str, str]:
    return {
        "tracking_number": pending.shipment.tracking_number,
        "carrier_code": pending.carrier_code,
        **pending.shipment.fields,
    }


def _field_of(result: Result) -> str | None:
    if result in (Result.MISSING_NUMBER, Result.INVALID_NUMBER):
        return "tracking_number"
    if result is Result.INVALID_CARRIER:
        return "carrier_code"
    return None
