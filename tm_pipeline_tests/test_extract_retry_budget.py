"""The retry budget, driven through tenacity exactly as the fetcher drives it (no server needed)."""

import random

import pytest
from tenacity import Retrying, retry_if_exception_type

from tm_pipeline.api.errors import RateLimitedError, TransientApiError
from tm_pipeline.api.retry_policy import RetryPolicy
from tm_pipeline.api.status_codes import classify
from tm_pipeline.extract.fetch import _RetryBudget


def _run(failures: list[Exception], policy: RetryPolicy) -> tuple[list[float], int]:
    waits: list[float] = []
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    budget = _RetryBudget(policy, random.Random(1))
    retrying = Retrying(retry=retry_if_exception_type((TransientApiError, RateLimitedError)),
                        wait=budget.wait_s, stop=budget.stop, sleep=waits.append, reraise=True)
    retrying(attempt)
    return waits, calls


def test_backoff_doubles_from_the_initial_wait_with_jitter() -> None:
    waits, calls = _run([TransientApiError("500")] * 4, RetryPolicy(backoff_initial_s=1.0, backoff_max_s=30.0))
    assert calls == 5
    for wait, ceiling in zip(waits, [1.0, 2.0, 4.0, 8.0], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_429_waits_the_full_pause_and_has_its_own_budget() -> None:
    rate_limited = RateLimitedError(classify(429), "page 1", "key#x")
    waits, _ = _run([rate_limited, TransientApiError("503"), rate_limited], RetryPolicy(pause_on_429_s=120.0))
    assert waits[0] == 120.0 and waits[2] == 120.0 and waits[1] < 1.0


def test_transient_failures_give_up_after_the_budget() -> None:
    with pytest.raises(TransientApiError):
        _run([TransientApiError("500")] * 4, RetryPolicy(max_transient_retries=3))
