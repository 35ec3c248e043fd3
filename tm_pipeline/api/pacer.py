"""A pacer that spaces request *starts* on a monotonic clock, and remembers the account's budget.

Sleeping a fixed second after each response wastes the response latency on every page; spacing
starts by exactly 1/rate keeps the caller at the allowed rate and never above it, whatever the
latency. `margin_s` absorbs the jitter between our send time and the server's arrival time.

The limit belongs to the API key, not to one run: a run that starts right after another (or after
a 429 told the account to be quiet for two minutes) must wait too. With a `state_file`, the next
allowed start is kept on disk as wall-clock time and honoured by the next pacer for the same key.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


class Pacer:
    def __init__(
        self,
        rate_per_s: float | None,
        margin_s: float = 0.010,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval_s = (1.0 / rate_per_s + margin_s) if rate_per_s else 0.0
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._state_file = state_file
        self._next_start: float | None = None
        remembered = self._read_state()
        if remembered is not None:
            self._next_start = clock() + max(0.0, remembered - wall_clock())

    def wait_turn(self) -> float:
        """Block until the next request may start; returns the seconds waited."""
        entered = now = self._clock()
        while self._next_start is not None and now < self._next_start:
            self._sleep(self._next_start - now)
            now = self._clock()
        self._set_next_start(now + self.interval_s)
        return now - entered

    def hold_off(self, pause_s: float) -> None:
        """Push the next start at least `pause_s` from now (the server asked us to be quiet)."""
        self._set_next_start(max(self._next_start or 0.0, self._clock() + pause_s))

    def _set_next_start(self, next_start: float) -> None:
        self._next_start = next_start
        if self._state_file is not None and self.interval_s:
            wall_next = self._wall_clock() + (next_start - self._clock())
            temporary = self._state_file.with_name(self._state_file.name + ".tmp")
            temporary.write_text(f"{wall_next:.6f}\n")
            os.replace(temporary, self._state_file)

    def _read_state(self) -> float | None:
        if self._state_file is None:
            return None
        try:
            return float(self._state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
