"""Paced calls with bounded retries, and the lookup that settles an unknown create outcome.

A 429 means the API did nothing: pause as it asks and send again. A transient failure (5xx,
timeout, reset) is retried only where sending twice is harmless (detect, lookups); a create call
passes `retry_transient=False` and settles by lookup instead (see run.py). Other refusals stop
the run with the status-code table's advice.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import msgspec

from tm_pipeline.api.client import Attempt, TrackingMoreClient
from tm_pipeline.api.create_requests import CreateApi
from tm_pipeline.api.errors import StopRunError, TransientApiError
from tm_pipeline.api.pacer import Pacer
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.api.status_codes import Action, classify


class PacedCalls:
    """Sequential calls over one client; each call waits its turn on the pacer it is given."""

    def __init__(self, client: TrackingMoreClient, policy: RetryPolicy) -> None:
        self.client = client
        self.policy = policy
        self._rng = random.Random()

    def lookup(
        self, api: CreateApi, pacer: Pacer, numbers: Sequence[str]
    ) -> tuple[dict[tuple[str, str], str], int]:
        """({(number, carrier): id} of the numbers TrackingMore has, calls made), via the list endpoint
        filtered by numbers."""
        found: dict[tuple[str, str], str] = {}
        calls = 0
        step = api.max_lookup_numbers
        for start in range(0, len(numbers), step):
            chunk = numbers[start : start + step]
            calls += 1
            params = api.lookup_params(chunk)
            attempt = self.call(partial(self.client.get, api.lookup_path, params), pacer,
                                f"GET {api.lookup_path} for {len(chunk)} numbers", accept=(4031,))
            data = _decoded(attempt.data) if attempt.code in (200, 201) else None
            for number, carrier, tracking_id in api.found(data):
                found[(number, carrier)] = tracking_id
        return found, calls

    def call(
        self,
        send: Callable[[], Attempt],
        pacer: Pacer,
        where: str,
        accept: tuple[int, ...] = (),
        retry_transient: bool = True,
    ) -> Attempt:
        """One paced call, retried after 429 (nothing was done) and, if `retry_transient`, after
        transient failures; codes in `accept` are answers, other refusals raise StopRunError."""
        pauses = transient = 0
        while True:
            pacer.wait_turn()
            attempt = send()
            pacer.note_request(attempt.sent_at, attempt.new_connection, attempt.answered_at)
            code = attempt.code
            if attempt.failure is not None or code is None:
                problem: str = f"{where}: {attempt.failure or 'no answer'}"
            elif code in accept:
                return attempt
            else:
                status = classify(code)
                if status.action is Action.ACCEPT:
                    return attempt
                if status.action is Action.PAUSE_THEN_RETRY:
                    pauses += 1
                    if pauses > self.policy.max_429_pauses:
                        raise TransientApiError(f"{where}: still 429 after {pauses - 1} pauses; rerun later")
                    pacer.hold_off(self.policy.pause_on_429_s, f"{where}: the API asked for a pause (429)", warn=True)
                    continue
                if status.action is not Action.RETRY_WITH_BACKOFF:
                    raise StopRunError(status, f"{where}: {attempt.meta_message or status.meaning}",
                                       self.client.key_fingerprint)
                problem = f"{where}: {code} {status.type}"
            transient += 1
            if not retry_transient or transient > self.policy.max_transient_retries:
                raise TransientApiError(problem)
            pacer.hold_off(self.backoff_s(transient), f"backing off after {problem}")

    def backoff_s(self, failures: int) -> float:
        ceiling = min(self.policy.backoff_max_s, self.policy.backoff_initial_s * 2.0 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


def _decoded(data: Any) -> Any:
    """`data` of a GET decoded with the generic decoder arrives as raw bytes."""
    if isinstance(data, (bytes, msgspec.Raw)):
        try:
            return msgspec.json.decode(bytes(data))
        except msgspec.DecodeError:
            return None
    return data
