"""Per-client token buckets: one noisy or hostile client cannot starve TrackingMore's pushes.

A client is the peer address the server sees (behind a proxy, the address uvicorn takes from
X-Forwarded-For for trusted proxies, `--forwarded-allow-ips`). The table of clients is bounded:
a flood from many addresses evicts the least recently seen, never grows memory without limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

MAX_CLIENTS_TRACKED = 10_000


class ClientRateLimiter:
    def __init__(self, rate_per_s: float, burst: float, max_clients: int = MAX_CLIENTS_TRACKED) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"a client rate must be > 0 per second with a burst >= 1, got {rate_per_s}/{burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._lock = threading.Lock()

    def admit(self, client: str, now: float | None = None) -> float:
        """0.0 when the request may proceed, else the seconds until it would (for Retry-After)."""
        at = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, at))
            tokens = min(self.burst, tokens + (at - last) * self.rate_per_s)
            wait_s = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait_s = (1 - tokens) / self.rate_per_s
            self._buckets[client] = (tokens, at)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
            return wait_s
