"""Per-key request spacing, the way TrackingMore throttles: N accepted requests per second.

A request is refused when it arrives sooner than 1/rate seconds after the key's previous
*accepted* request (less a small arrival-jitter tolerance). Refused requests do not move the
window, so a client that hammers is not punished forever, and one that waits is always served.
The docs tell clients to wait two minutes after a 429; an optional penalty makes a key's 429
last that long, so a client that ignores the advice is caught here rather than in production.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable


def key_fingerprint(api_key: str) -> str:
    """Short stable hash that identifies a key in stats without revealing it."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:10]


class IntervalLimiter:
    """Admits a key's request only if it is spaced at least 1/rate seconds from the last admitted one
    (and, with a penalty, if the key is not serving one after an earlier refusal).

    Also records the shortest gap between *arrivals* per key, so a benchmark can check that a
    client's own pacing never exceeded the limit (rejected arrivals count there too).
    """

    def __init__(
        self,
        rate_per_s: float | None,
        tolerance_s: float,
        penalty_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._min_interval_s = 1.0 / rate_per_s if rate_per_s else 0.0
        self._tolerance_s = tolerance_s
        self._penalty_s = penalty_s
        self._blocked_until: dict[str, float] = {}
        self._clock = clock
        self._lock = threading.Lock()
        self._last_accepted: dict[str, float] = {}
        self._last_arrival: dict[str, float] = {}
        self._min_gap_s: dict[str, float] = {}
        self._refused: dict[str, int] = {}

    def admit(self, scope: str, arrived_at: float | None = None) -> bool:
        """Record an arrival for `scope` (a key, or key+shipment) and say whether to serve it.

        `arrived_at` (on this limiter's clock) is when the request reached the server, if the
        transport knows better than "now" (kernel receive time, handshake); default now."""
        with self._lock:
            now = self._clock() if arrived_at is None else arrived_at
            previous_arrival = self._last_arrival.get(scope)
            if previous_arrival is not None:
                gap = abs(now - previous_arrival)  # two connections of one key may be handled out of order
                self._min_gap_s[scope] = min(gap, self._min_gap_s.get(scope, gap))
            self._last_arrival[scope] = now
            if now < self._blocked_until.get(scope, 0.0):
                self._refused[scope] = self._refused.get(scope, 0) + 1
                return False  # serving a penalty; further tries do not extend it
            last = self._last_accepted.get(scope)
            if (
                self._min_interval_s
                and last is not None
                and now - last < self._min_interval_s - self._tolerance_s
            ):
                if self._penalty_s:
                    self._blocked_until[scope] = now + self._penalty_s
                self._refused[scope] = self._refused.get(scope, 0) + 1
                return False
            self._last_accepted[scope] = now
            return True

    def max_rate_per_scope(self) -> dict[str, float]:
        """1 / shortest arrival gap per scope (0.0 until a scope has two arrivals)."""
        with self._lock:
            rates = {scope: 0.0 for scope in self._last_arrival}
            rates.update({scope: 1.0 / max(gap, 1e-6) for scope, gap in self._min_gap_s.items()})
            return rates

    def min_gap_per_scope(self) -> dict[str, float]:
        """The shortest gap in seconds between two arrivals per scope (scopes with two arrivals)."""
        with self._lock:
            return dict(self._min_gap_s)

    def refused_per_scope(self) -> dict[str, int]:
        """How many arrivals this limiter answered with 429, per scope (penalty included)."""
        with self._lock:
            return dict(self._refused)
