"""A pacer that spaces request *starts* on a monotonic clock.

Sleeping a fixed second after each response wastes the response latency on every page; spacing
starts by exactly 1/rate keeps the caller at the allowed rate and never above it, whatever the
latency. `margin_s` absorbs the jitter between our send time and the server's arrival time.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    def __init__(
        self,
        rate_per_s: float | None,
        margin_s: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval_s = (1.0 / rate_per_s + margin_s) if rate_per_s else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_start: float | None = None

    def wait_turn(self) -> float:
        """Block until the next request may start; returns the seconds waited."""
        entered = now = self._clock()
        while self._next_start is not None and now < self._next_start:
            self._sleep(self._next_start - now)
            now = self._clock()
        self._next_start = now + self.interval_s
        return now - entered

    def hold_off(self, pause_s: float) -> None:
        """Push the next start at least `pause_s` from now (the server asked us to be quiet)."""
        self._next_start = max(self._next_start or 0.0, self._clock() + pause_s)
