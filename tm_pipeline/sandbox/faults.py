"""Fault injection: the failures a production client must survive, reproducible from a seed.

One uniform draw per v2 request picks at most one fault (connection reset, truncated body,
held-open "timeout", or an error code); latency is added to every request. A 429 burst makes
the next N list requests answer 429 regardless of pacing.

Two list-endpoint lies are not drawn but always applied: a wrong `total` (`total_override`, or the
real count times `total_scale`), and malformed items (`malformed_items` maps a tracking's position
in the account's list order, as `truth_trackings()` lists it, to a mutation of malformed.py).
`page_caps` (v4 list only) maps a page number to the most items that page serves: a short (or,
with 0, empty) page in the middle of a walk, which v4's total-less paging cannot tell from the end.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .malformed import MUTATIONS

# Codes answered by a proxy in front of the API: HTML body, real HTTP status, no v2 envelope.
GATEWAY_CODES = frozenset({502, 504})


@dataclass(frozen=True)
class FaultConfig:
    """Probabilities are per request; `error_rates` maps a code ("500", "503", "502"…) to a rate."""

    error_rates: Mapping[str, float] = field(default_factory=dict)
    latency_s: float = 0.0
    timeout_rate: float = 0.0
    timeout_hold_s: float = 30.0
    truncate_rate: float = 0.0
    reset_rate: float = 0.0
    burst_429: int = 0
    seed: int = 0
    total_override: int | None = None
    total_scale: float = 1.0
    malformed_items: Mapping[str, str] = field(default_factory=dict)
    page_caps: Mapping[str, int] = field(default_factory=dict)

    def page_cap(self, page: int) -> int | None:
        """The most items v4 page `page` serves, or None for no cap."""
        return self.page_caps.get(str(page))

    def __post_init__(self) -> None:
        unknown = set(self.malformed_items.values()) - set(MUTATIONS)
        if unknown:
            raise ValueError(f"unknown malformed_items mutations {sorted(unknown)}; known: {sorted(MUTATIONS)}")

    def reported_total(self, real_total: int) -> int:
        """The `total` a list page claims: the real count unless a lie is configured."""
        if self.total_override is not None:
            return self.total_override
        return round(real_total * self.total_scale)

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> FaultConfig:
        """Build from JSON (admin endpoint, CLI); unknown keys are an error, not silently ignored."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        settings = dict(values)
        rates = settings.pop("error_rates", {})
        if not isinstance(rates, Mapping):
            raise ValueError("error_rates must map codes to rates")
        error_rates = {str(code): float(rate) for code, rate in rates.items()}
        malformed = settings.pop("malformed_items", {})
        if not isinstance(malformed, Mapping):
            raise ValueError("malformed_items must map list positions to mutations")
        caps = settings.pop("page_caps", {})
        if not isinstance(caps, Mapping):
            raise ValueError("page_caps must map page numbers to item counts")
        whole: dict[str, Any] = {
            name: int(str(settings.pop(name))) for name in ("burst_429", "seed") if name in settings
        }
        override = settings.pop("total_override", None)
        fractions: dict[str, Any] = {name: float(str(v)) for name, v in settings.items()}
        return cls(
            error_rates=error_rates,
            malformed_items={str(position): str(mutation) for position, mutation in malformed.items()},
            page_caps={str(page): int(str(cap)) for page, cap in caps.items()},
            total_override=None if override is None else int(str(override)),
            **whole,
            **fractions,
        )

    def as_dict(self) -> dict[str, object]:
        mappings = ("error_rates", "malformed_items", "page_caps")
        return {
            f.name: dict(getattr(self, f.name)) if f.name in mappings else getattr(self, f.name)
            for f in fields(self)
        }


@dataclass(frozen=True)
class Fault:
    """What to do to one request: a transport fault name, or an error `code`."""

    kind: str
    code: int | None = None


class FaultInjector:
    """Seeded, thread-safe source of faults; reconfiguring reseeds, so sequences replay."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._burst_left = config.burst_429
            buckets: list[tuple[float, Fault]] = [
                (config.reset_rate, Fault("reset")),
                (config.truncate_rate, Fault("truncate")),
                (config.timeout_rate, Fault("timeout")),
            ]
            buckets += [
                (rate, Fault("error", int(code))) for code, rate in sorted(config.error_rates.items())
            ]
            self._buckets = [(rate, fault) for rate, fault in buckets if rate > 0]

    def draw(self) -> Fault | None:
        """The fault for the next request, if any (one draw per request keeps sequences stable)."""
        with self._lock:
            if not self._buckets:
                return None
            roll = self._rng.random()
            for rate, fault in self._buckets:
                if roll < rate:
                    return fault
                roll -= rate
            return None

    def take_burst_429(self) -> bool:
        """True while a configured 429 burst still has list requests to refuse."""
        with self._lock:
            if self._burst_left <= 0:
                return False
            self._burst_left -= 1
            return True
