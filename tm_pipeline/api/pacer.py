"""A pacer that spaces requests as the server sees them *arrive*, and remembers the account's budget.

What a strict server counts is arrival, which we never see. What we do see bounds it:
- A request cannot arrive before it was written (`sent_at`, stamped after the write).
- A request cannot arrive after the server answered it (`answered_at`, when the headers came).
- On a reused connection the arrival is `sent_at` plus a one-way delay that barely varies; on a
  new connection a handshake comes first, so the arrival may be much later than `sent_at`.

So, after a request on a reused connection, the next may start at `sent_at + 1/rate + margin`
(`margin_s` absorbs jitter in that one-way delay), or at `answered_at + 1/rate` if that is sooner
(a quick answer); after a new connection's first request, only at the later of the two. The next
request arrives after it starts, so these rules keep arrivals 1/rate apart with no tolerance at
the server. Waiting for the answer costs one response latency per new connection, never per
request; sleeping after each response would cost it on every page. A failed attempt (sent or not,
unknown) spaces the next from the moment it failed.

The limit belongs to the API key, not to one run: a run that starts right after another (or after
a 429 told the account to be quiet for two minutes) must wait too. With a `state_file`, the next
allowed start is kept on disk as wall-clock time, with why, and honoured by the next pacer for the
same key. A wait long enough to notice is logged with its reason.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class Pacer:
    """Not thread-safe by design: one extraction's requests are strictly sequential."""

    def __init__(
        self,
        rate_per_s: float | None,
        margin_s: float = 0.010,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        notice_wait_s: float = 2.0,
    ) -> None:
        self.interval_s = 1.0 / rate_per_s if rate_per_s else 0.0
        self.margin_s = margin_s if rate_per_s else 0.0
        self.notice_wait_s = notice_wait_s
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._state_file = state_file
        self._next_start: float | None = None  # the earliest next start every known bound allows
        self._granted_floor: float | None = None  # grant + interval, until the attempt is reported
        self._reason: str | None = None  # why _next_start is where it is, when it is worth saying
        self._reason_level = logging.INFO
        remembered = self._read_state()
        if remembered is not None:
            wall_next, reason, self._reason_level = remembered
            self._next_start = clock() + max(0.0, wall_next - wall_clock())
            self._reason = (
                f"{reason} (remembered from an earlier run)"
                if reason
                else "this API key's request budget, remembered from an earlier run"
            )

    def wait_turn(self) -> float:
        """Block until the next request may start; returns the seconds waited."""
        entered = now = self._clock()
        next_start = self._effective_next_start()
        if next_start is not None and next_start - now >= self.notice_wait_s:
            reason = self._reason or f"spacing requests {self.interval_s:g} s apart"
            log.log(self._reason_level, "waiting %.0f s: %s", next_start - now, reason)
        if self.interval_s:
            # Until the attempt is reported (note_request), space from its grant, as if it had been
            # sent at once: a caller that never reports is paced no worse than before issue 9. The
            # file gets the expected grant's floor now, before the wait, so that no disk write sits
            # between the grant and the send (note_request writes the real bound right after it).
            self._granted_floor = max(now, next_start or now) + self.interval_s + self.margin_s
            self._save_state()
        while next_start is not None and now < next_start:
            self._sleep(next_start - now)
            now = self._clock()
        self._reason, self._reason_level = None, logging.INFO  # that wait is served
        if self.interval_s:
            self._granted_floor = now + self.interval_s + self.margin_s
        return now - entered

    def note_request(self, sent_at: float | None, new_connection: bool, answered_at: float | None) -> None:
        """Space the next start from what the last attempt did (times on this pacer's clock).

        `sent_at` None means unknown (the attempt failed): its arrival, if any, was before now."""
        if not self.interval_s:
            return
        self._granted_floor = None  # what the attempt reports replaces the guess made at the grant
        if sent_at is None:
            self._push_next_start(self._clock() + self.interval_s)
        else:
            after_send = sent_at + self.interval_s + self.margin_s
            after_answer = (answered_at if answered_at is not None else self._clock()) + self.interval_s
            # A new connection's arrival can be anywhere up to the answer: only the answer bounds it.
            self._push_next_start(max(after_send, after_answer) if new_connection else min(after_send, after_answer))
        self._save_state()

    def hold_off(self, pause_s: float, reason: str | None = None, warn: bool = False) -> None:
        """Push the next start at least `pause_s` from now (the server asked us to be quiet, or a
        retry backs off). `reason` is what the log line says if the wait is long enough to notice."""
        self._push_next_start(self._clock() + pause_s, reason, logging.WARNING if warn else logging.INFO)
        self._save_state()

    def _effective_next_start(self) -> float | None:
        if self._granted_floor is None:
            return self._next_start
        return max(self._granted_floor, self._next_start or self._granted_floor)

    def _push_next_start(self, next_start: float, reason: str | None = None, level: int = logging.INFO) -> None:
        """Move the next start later, never earlier: every bound that holds must keep holding."""
        if self._next_start is not None and next_start <= self._next_start:
            return
        self._next_start = next_start
        self._reason, self._reason_level = reason, level

    def _save_state(self) -> None:
        """Write the next start (wall-clock), its reason and log level for the key's next pacer."""
        next_start = self._effective_next_start()
        if self._state_file is None or not self.interval_s or next_start is None:
            return
        wall_next = self._wall_clock() + (next_start - self._clock())
        temporary = self._state_file.with_name(self._state_file.name + ".tmp")
        temporary.write_text(f"{wall_next:.6f}\n{self._reason or ''}\n{logging.getLevelName(self._reason_level)}\n")
        os.replace(temporary, self._state_file)

    def _read_state(self) -> tuple[float, str, int] | None:
        """(next allowed start as wall-clock time, why, log level) from the state file; files
        written by earlier versions hold only the first line."""
        if self._state_file is None:
            return None
        try:
            lines = self._state_file.read_text().split("\n")
            wall_next = float(lines[0])
        except (FileNotFoundError, ValueError):
            return None
        reason = lines[1].strip() if len(lines) > 1 else ""
        level = logging.WARNING if len(lines) > 2 and lines[2].strip() == "WARNING" else logging.INFO
        return wall_next, reason, level
