"""Fetch one page: pace, attempt, record, and retry or stop according to the status-code table.

What is asked and how the answer reads belong to the `ListEndpoint` (api/endpoints/): this loop
renders the abstract query through it, decodes with its decoder and judges with its code table,
so it is the same for every API version.

Tenacity drives the retries; its "sleep" is handed to the pacer, so a backoff or the 429 pause
simply moves the next allowed start and the pacer does the waiting — one clock for everything.
After every attempt the pacer is told when the request really left and on what connection, so
it spaces arrivals at the server, not its own grants.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from tm_pipeline import settings
from tm_pipeline.api import failures
from tm_pipeline.api.client import Attempt, TrackingMoreClient
from tm_pipeline.api.endpoints import ListEndpoint
from tm_pipeline.api.endpoints.v2 import V2_LIST
from tm_pipeline.api.envelope import ListPage
from tm_pipeline.api.errors import ConfigurationError, RateLimitedError, StopRunError, TransientApiError
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.api.status_codes import Action
from tm_pipeline.extract.ledger import CallRecord, Ledger

log = logging.getLogger(__name__)


class _RetryBudget:
    """Per-page retry accounting: 429 pauses and transient retries are budgeted separately.

    Tenacity asks for the wait before it asks whether to stop, so each failure is counted in wait_s.
    """

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng
        self.transient = 0
        self.rate_limited = 0
        self.pause_reason = ""  # what the pacer says if the wait is long enough to notice
        self.pause_after_429 = False

    def wait_s(self, state: RetryCallState) -> float:
        if isinstance(_error(state), RateLimitedError):
            self.rate_limited += 1
            self.pause_reason = _pause_after_429()
            self.pause_after_429 = True
            return self.policy.pause_on_429_s
        self.transient += 1
        self.pause_reason = f"backing off after failed attempt {state.attempt_number}: {_error(state)}"
        self.pause_after_429 = False
        ceiling = min(self.policy.backoff_max_s, self.policy.backoff_initial_s * 2.0 ** (self.transient - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)  # "equal jitter": never 0, never in lockstep

    def stop(self, state: RetryCallState) -> bool:
        return (
            self.rate_limited > self.policy.max_429_pauses
            or self.transient > self.policy.max_transient_retries
        )


def _error(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None


@dataclass
class FetchedPage:
    """A list call that succeeded: the attempt, its page (None for 4031, "nothing to return") and
    every attempt it took, to land with the page."""

    attempt: Attempt
    page: ListPage | None
    calls: list[CallRecord]


class PageFetcher:
    """Fetches list pages of one endpoint, writing every attempt to the ledger it is given."""

    def __init__(
        self,
        client: TrackingMoreClient,
        pacer: Pacer,
        policy: RetryPolicy | None = None,
        endpoint: ListEndpoint = V2_LIST,
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.policy = policy or RetryPolicy()
        self.endpoint = endpoint
        self._rng = random.Random()

    def fetch(self, params: dict[str, Any], page: int, ledger: Ledger) -> FetchedPage:
        """Fetch until the call succeeds (or is an empty 4031); raise StopRunError or the last failure.

        `params` are abstract (api/endpoints/base.py, including `page`); the endpoint renders them.

        When it raises, its attempts are handed to the ledger so the run's final commit lands them.
        """
        calls: list[CallRecord] = []

        def one_attempt() -> FetchedPage:
            attempt, list_page = self._attempt(params, page, len(calls) + 1, ledger, calls)
            return FetchedPage(attempt, list_page, calls)

        budget = _RetryBudget(self.policy, self._rng)
        retrying = Retrying(
            retry=retry_if_exception_type((TransientApiError, RateLimitedError)),
            wait=budget.wait_s,
            stop=budget.stop,
            sleep=lambda pause_s: self.pacer.hold_off(pause_s, budget.pause_reason, warn=budget.pause_after_429),
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            return retrying(one_attempt)
        except TransientApiError as last_failure:
            ledger.keep_unlanded(calls)
            raise TransientApiError(
                f"{last_failure}. Gave up after {len(calls)} attempts: rerun later (exit code 4)."
            ) from last_failure
        except BaseException:
            ledger.keep_unlanded(calls)
            raise

    def _attempt(
        self, params: dict[str, Any], page: int, attempt_number: int, ledger: Ledger, calls: list[CallRecord]
    ) -> tuple[Attempt, ListPage | None]:
        endpoint = self.endpoint
        query = endpoint.render_query(params)
        waited_s = self.pacer.wait_turn()
        requested_at = datetime.now(timezone.utc)
        result = self.client.get(endpoint.path, query, endpoint.decoder)
        self.pacer.note_request(result.sent_at, result.new_connection, result.answered_at)
        list_page = endpoint.page_of(result.data) if result.code in (200, 201) else None
        record = CallRecord(
            run_id=ledger.run_id,
            extraction_id=ledger.extraction_id,
            window_key=ledger.window_key,
            call_seq=ledger.next_seq(),
            requested_at=requested_at,
            endpoint=endpoint.path,
            api_version=endpoint.version,
            page=page,
            params_json=json.dumps(query, sort_keys=True),
            http_status=result.http_status,
            meta_code=result.meta_code,
            meta_type=result.meta_type,
            meta_message=result.meta_message,
            failure=result.failure,
            attempt=attempt_number,
            wait_before_s=waited_s,
            latency_ms=result.latency_ms,
            response_bytes=result.response_bytes,
            rows=len(list_page.items) if list_page else None,
            total_reported=list_page.total_reported if list_page else None,
        )
        calls.append(record)
        ledger.count(record)
        # The query never holds the key (it is a header).
        where = f"GET {endpoint.path} page {page} with {query}"
        try:
            return _judge(result, where, self.client, attempt_number, endpoint), list_page
        except RateLimitedError:
            # Whether or not this page is retried, the key must now stay quiet: a run that gives up
            # here must not let the next run (which reads the pacer's state file) start at once.
            self.pacer.hold_off(self.policy.pause_on_429_s, _pause_after_429(), warn=True)
            raise


def _pause_after_429() -> str:
    return f"the API asked for a pause after a 429 at {datetime.now(timezone.utc):%H:%M:%S} UTC"


# A refused connection or a failed DNS lookup is tried once more before it counts as configuration:
# a server restarting or a resolver hiccup can cause one. A body that is not an envelope needs no
# second look — no blip turns the API into a web page.
CONNECT_ATTEMPTS_BEFORE_CONFIGURATION_ERROR = 2


def _judge(
    result: Attempt, where: str, client: TrackingMoreClient, attempt_number: int, endpoint: ListEndpoint
) -> Attempt:
    """Return the attempt if it is usable; otherwise raise the error that says what happens next."""
    if result.failure is not None:
        raise _failure_error(result, where, client, attempt_number, endpoint)
    key_fingerprint = client.key_fingerprint
    status = endpoint.classify(result.code)  # type: ignore[arg-type]  # code is set whenever failure is None
    if status.action in (Action.ACCEPT, Action.TREAT_AS_EMPTY):
        if status.action is Action.ACCEPT and result.http_status not in (200, 201):
            raise TransientApiError(f"{where}: meta.code {result.meta_code} but HTTP {result.http_status}")
        return result
    if status.action is Action.PAUSE_THEN_RETRY:
        raise RateLimitedError(status, where, key_fingerprint)
    if status.action is Action.RETRY_WITH_BACKOFF:
        raise TransientApiError(f"{where}: {status.code} {status.type}")
    detail = f"{where}: {result.meta_message or status.meaning}"
    raise StopRunError(status, detail, key_fingerprint)


def _failure_error(
    result: Attempt, where: str, client: TrackingMoreClient, attempt_number: int, endpoint: ListEndpoint
) -> ConfigurationError | TransientApiError:
    """No envelope came back: a configuration error if no TrackingMore API is at the address, else transient.

    A 5xx status (a gateway's HTML page) or 429 is the API's side having trouble, and a host that
    answered with envelopes earlier in this run and now fails is having an outage: both are retried.
    """
    kind = result.failure or failures.CONNECTION
    happened = failures.what_happened(kind, result.http_status, result.body_summary)
    server_side_status = result.http_status is not None and (result.http_status >= 500 or result.http_status == 429)
    never_answered = client.envelopes_received == 0
    if kind in failures.NO_API_HERE and never_answered and not server_side_status:
        if kind == failures.NOT_ENVELOPE or attempt_number >= CONNECT_ATTEMPTS_BEFORE_CONFIGURATION_ERROR:
            tries = "1 attempt" if attempt_number == 1 else f"{attempt_number} attempts"
            return ConfigurationError(
                f"{where}: no TrackingMore API at {client.origin} ({tries}): {happened}. "
                f"This address comes from {settings.BASE_URL_VAR} (when it is unset, the default is the local sandbox "
                f"{settings.SANDBOX_BASE_URL}). What to check: "
                f"{failures.what_to_check(kind, endpoint.base_url_hint)}; then rerun."
            )
    earlier = " after answering earlier in this run" if not never_answered else ""
    return TransientApiError(f"{where}: {client.origin}{earlier}: {happened}")


def _log_retry(state: RetryCallState) -> None:
    pause = state.next_action.sleep if state.next_action else 0.0
    log.warning("attempt %d failed (%s); next try in %.1f s", state.attempt_number, _error(state), pause)
