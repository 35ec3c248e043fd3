"""How often and how long a page fetch retries: the budget the account's configuration sets.

Apart from the retry loop (extract/fetch.py) because the Dagster resource that reads the budget
from configuration sits below the stages and must not import the extractor.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retries per page: transient failures back off exponentially (with jitter, capped at
    `backoff_max_s`); a 429 pauses `pause_on_429_s`, at most `max_429_pauses` times."""

    max_transient_retries: int = 8
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    pause_on_429_s: float = 120.0
    max_429_pauses: int = 5
