"""Everything that shapes one sandbox instance, in one frozen value.

A run is reproducible from its config alone: the seed drives the data and the fault sequence,
and the simulated clock starts at `start_at`, never at the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from .faults import FaultConfig


@dataclass(frozen=True)
class SandboxConfig:
    """Knobs of the stand-in TrackingMore v2 server.

    Rates are accepted requests per second per API key; None (or 0) disables a limit.
    `list_rate_per_s` throttles `GET /v2/trackings/get`, `realtime_rate_per_s` the realtime
    endpoint, `other_rate_per_s` all remaining v2 endpoints together (§7: default 1/s).
    `rate_penalty_s` > 0 keeps refusing a key for that long after a rate-limit 429 (the docs'
    "wait two minutes" is 120); 0 means only the spacing rule applies.
    `rate_tolerance_s` forgives that much early arrival (0 = none, as a strict server).
    `handshake_delay_s` > 0 makes the first request of every new connection count as arrived that
    much later (a TLS handshake): arrival is the kernel's receive time of the request's first byte,
    plus this delay on a new connection. `close_connection_rate` is the share of v2 replies after
    which the server closes the connection (`Connection: close`, drawn from `close_connection_seed`),
    so a client keeps paying for new connections. `strict()` combines them.
    `v4_list_rate_per_s` throttles `GET /v4/trackings/get` (§10.6: 10/s), with the same tolerance
    and penalty (so `strict()` holds v4 to 10/s with no tolerance and the two-minute penalty).
    `separate_accounts=True` makes every key of `api_keys` its own TrackingMore account: its own
    shipments (seeded from `seed` plus the key's position), list results and ground truth; rate
    limits and 429 counts are per key either way. Keys added later share the first key's account.
    `mirror_http_status=True` also sends the meta code as the HTTP status (4xxx business codes as
    400, 4001/4002 as 401); the default keeps the v2 habit of HTTP 200 with the error in meta.code.
    `balance` / `quota` (None = unlimited) are spent by each created tracking; at zero, creation
    answers 4019 / 4021. `mutate_every_n_list_requests` advances the simulated clock by
    `mutate_advance_minutes` after every n-th accepted list request, to change data mid-paging.
    """

    trackings: int = 3000
    seed: int = 42
    api_keys: tuple[str, ...] = ("sandbox-key",)
    deleted_api_keys: tuple[str, ...] = ()
    separate_accounts: bool = False
    list_rate_per_s: float | None = 1.0
    rate_tolerance_s: float = 0.02
    rate_penalty_s: float = 0.0
    handshake_delay_s: float = 0.0
    close_connection_rate: float = 0.0
    close_connection_seed: int = 0
    v4_list_rate_per_s: float | None = 10.0
    realtime_rate_per_s: float | None = 3.0
    other_rate_per_s: float | None = 1.0
    realtime_shipment_interval_s: int = 7200
    realtime_enabled: bool = True
    start_at: datetime = datetime(2024, 6, 1, tzinfo=timezone.utc)
    history_days: float = 120.0
    account_utc_offset_h: int = 8
    new_trackings_per_day: float | None = None
    mutate_every_n_list_requests: int = 0
    mutate_advance_minutes: float = 10.0
    mirror_http_status: bool = False
    balance: int | None = None
    quota: int | None = None
    max_batch_items: int = 40
    max_bulk_items: int = 200
    faults: FaultConfig = field(default_factory=FaultConfig)

    @classmethod
    def strict(cls, **overrides: Any) -> SandboxConfig:
        """A server as unforgiving as the real API can be: 1 list request/s with no tolerance, a
        150 ms handshake before a new connection's first request arrives, one reply in ten closing
        its connection, and two minutes of 429 after a rate-limit 429. Any field can be overridden."""
        strict = cls(
            list_rate_per_s=1.0,
            rate_tolerance_s=0.0,
            rate_penalty_s=120.0,
            handshake_delay_s=0.15,
            close_connection_rate=0.1,
        )
        return replace(strict, **overrides)
