"""Counters of what the sandbox answered, so tests and benchmarks can audit a client's behaviour."""

from __future__ import annotations

import threading
from collections import defaultdict


class RequestStats:
    """Thread-safe tallies per endpoint and meta code; never holds a raw API key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.served_429 = 0
        self.by_endpoint_code: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.faults: dict[str, int] = defaultdict(int)

    def record(self, endpoint: str, code: int | None) -> None:
        """One request; `code` is None when no answer was sent (connection reset)."""
        with self._lock:
            self.requests += 1
            if code == 429:
                self.served_429 += 1
            if code is not None:
                self.by_endpoint_code[endpoint][str(code)] += 1

    def record_fault(self, fault: str) -> None:
        with self._lock:
            self.faults[fault] += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": self.requests,
                "served_429": self.served_429,
                "by_endpoint_code": {
                    endpoint: dict(sorted(codes.items()))
                    for endpoint, codes in sorted(self.by_endpoint_code.items())
                },
                "faults": dict(sorted(self.faults.items())),
            }
