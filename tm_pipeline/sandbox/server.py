"""SandboxServer: the stand-in TrackingMore v2 API (and v4's list endpoint) over real HTTP on a local port.

The transport (transport.py) is the standard library's ThreadingHTTPServer on HTTP/1.1
keep-alive, so clients exercise the connection handling they use in production.
Each v2 request goes: fault draw → route (404/405) → API key (4001/4002) → per-key rate limit
(429) → endpoint. Admin endpoints under `/_sandbox/` exist only here and need no key. Requests under `/v4/` are
answered by v4_api.py from the same store (same shipments, same ground truth).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import unquote

from .account import Account
from .admin import admin_reply
from .config import SandboxConfig
from .endpoints import RequestError, TrackingApi
from .faults import GATEWAY_CODES, Fault, FaultConfig, FaultInjector
from .gcpause import paused_gc
from .listing import list_trackings
from .protocol import Reply, error, gateway_error
from .ratelimit import IntervalLimiter, key_fingerprint
from .stats import RequestStats
from .store import TrackingStore
from .transport import SandboxHTTPServer
from .truth import expected_metrics
from .truth_journeys import (
    DEFAULT_AT_RISK_WITHIN_BUSINESS_DAYS,
    DEFAULT_HOLIDAYS,
    DEFAULT_PROMISES,
    DEFAULT_STUCK_AFTER_DAYS,
    expected_journey_metrics,
)
from .v4_api import V4_API_KEY_HEADER, V4_LIST_PATH, v4_error, v4_list
from .webhooks import WebhookConfig, WebhookSender

API_KEY_HEADER = "trackingmore-api-key"
LIST_PATH = "/v2/trackings/get"
SINGLE_PATH = "/v2/trackings/{carrier_code}/{tracking_number}"
UNKNOWN_ENDPOINT = "(unknown)"

# label -> (allowed methods, limiter name)
_ROUTES: dict[str, tuple[frozenset[str], str]] = {
    LIST_PATH: (frozenset({"GET"}), "list"),
    "/v2/trackings/post": (frozenset({"POST"}), "other"),
    "/v2/trackings/batch": (frozenset({"POST"}), "other"),
    "/v2/trackings/updatemore": (frozenset({"POST"}), "other"),
    "/v2/trackings/delete": (frozenset({"POST"}), "other"),
    "/v2/trackings/realtime": (frozenset({"POST"}), "realtime"),
    "/v2/trackings/getuserinfo": (frozenset({"GET"}), "other"),
    "/v2/trackings/getstatusnumber": (frozenset({"GET"}), "other"),
    "/v2/carriers": (frozenset({"GET"}), "other"),
    "/v2/carriers/detect": (frozenset({"POST"}), "other"),
    SINGLE_PATH: (frozenset({"GET", "PUT", "DELETE"}), "other"),
}


@dataclass(frozen=True)
class Outcome:
    """How to answer one request: the endpoint label for stats, the reply, and any transport fault."""

    endpoint: str
    reply: Reply
    transport_fault: Fault | None = None


def _route(path: str) -> tuple[str, list[str]]:
    """Endpoint label and path parameters (carrier, number[, lang]) for a v2 path."""
    trimmed = path.rstrip("/")
    if trimmed in _ROUTES:
        return trimmed, []
    parts = trimmed.split("/")
    if len(parts) in (5, 6) and parts[:3] == ["", "v2", "trackings"] and all(parts[3:]):
        return SINGLE_PATH, [unquote(part) for part in parts[3:]]
    return UNKNOWN_ENDPOINT, []


class SandboxServer:
    """A deterministic TrackingMore v2 account served on 127.0.0.1 (see docs/sandbox.md)."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.store = TrackingStore(self.config)
        self.account = Account(self.config)
        self.api = TrackingApi(self.config, self.store, self.account)
        # Keys that are accounts of their own (config.separate_accounts): their store and endpoints.
        self._account_stores: dict[str, TrackingStore] = {}
        self._account_apis: dict[str, TrackingApi] = {}
        if self.config.separate_accounts:
            for position, api_key in enumerate(self.config.api_keys):
                own_seed = replace(self.config, seed=self.config.seed + position)
                store = self.store if position == 0 else TrackingStore(own_seed)
                self._account_stores[api_key] = store
                self._account_apis[api_key] = TrackingApi(self.config, store, self.account)
        tolerance, penalty = self.config.rate_tolerance_s, self.config.rate_penalty_s
        self._limiters = {
            "list": IntervalLimiter(self.config.list_rate_per_s, tolerance, penalty),
            "realtime": IntervalLimiter(self.config.realtime_rate_per_s, tolerance, penalty),
            "other": IntervalLimiter(self.config.other_rate_per_s, tolerance, penalty),
            "v4_list": IntervalLimiter(self.config.v4_list_rate_per_s, tolerance, penalty),
        }
        self.faults = FaultInjector(self.config.faults)
        self._stats = RequestStats()
        self._list_served = 0
        self._list_lock = threading.Lock()
        self._churn = random.Random(self.config.close_connection_seed)
        self._churn_lock = threading.Lock()
        self._connections_opened = 0
        self._arrivals_without_stamp = 0
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.webhook: WebhookSender | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
        """Serve in background threads; port 0 picks a free port (read it from `base_url`)."""
        if self._httpd is not None:
            raise RuntimeError("sandbox already started")
        httpd = SandboxHTTPServer((host, port), self)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="tm-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.configure_webhook(None)
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_open_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @contextmanager
    def running(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxServer]:
        self.start(host, port)
        try:
            yield self
        finally:
            self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("sandbox not started")
        host, port = self._httpd.server_address[:2]
        if isinstance(host, bytes):  # only for AF_UNIX addresses, which this server never binds
            host = host.decode()
        return f"http://{host}:{port}/v2"

    @property
    def base_url_v4(self) -> str:
        """The same account spoken to as v4 (`.../v4`)."""
        return self.base_url.removesuffix("/v2") + "/v4"

    # --- account, clock, faults and audit --------------------------------------------------

    def add_api_key(self, api_key: str) -> None:
        """Another valid key; rate limits are per key, so each test can have its own."""
        self.account.add_key(api_key)

    def delete_api_key(self, api_key: str) -> None:
        """Requests with this key now answer 4002 (deleted) instead of 4001 (unknown)."""
        self.account.delete_key(api_key)

    def advance_clock(self, hours: float) -> dict[str, object]:
        """Move simulated time: checkpoints appear, statuses change, new trackings arrive (in every account)."""
        for store in self._other_stores():
            store.advance(hours * 3600)
        return self.store.advance(hours * 3600)

    def set_billing(self, balance: int | None | str = "unchanged", quota: int | None | str = "unchanged") -> None:
        """Set the creation balance and/or quota (None = unlimited): at 0, creation answers 4019 / 4021."""
        self.account.set_billing(
            {name: value for name, value in (("balance", balance), ("quota", quota)) if value != "unchanged"}
        )

    def configure_webhook(self, config: WebhookConfig | Mapping[str, object] | None) -> None:
        """Push every tracking a clock advance changes to `config.url` (see webhooks.py); None stops pushing.
        Pushes come from the first key's account (the pipeline's default account) only."""
        with self.store.lock:
            previous, self.webhook = self.webhook, None
            self.store.on_advance = None
            if config is not None:
                settings = config if isinstance(config, WebhookConfig) else WebhookConfig.from_dict(dict(config))
                sender = WebhookSender(settings)
                self.webhook = sender
                self.store.on_advance = lambda ids: sender.trackings_changed(
                    [(tid, self.store.rendered[tid], self.store.shipments[tid].status) for tid in ids]
                )
        if previous is not None:
            previous.stop()

    def _other_stores(self) -> list[TrackingStore]:
        return [store for store in self._account_stores.values() if store is not self.store]

    def store_for(self, api_key: str | None = None) -> TrackingStore:
        """The shipments `api_key` sees: its own with `separate_accounts`, else the one shared store."""
        return self._account_stores.get(api_key, self.store) if api_key is not None else self.store

    def set_faults(self, faults: FaultConfig | Mapping[str, object]) -> None:
        """Replace the fault settings (reseeds the fault sequence)."""
        self.faults.configure(faults if isinstance(faults, FaultConfig) else FaultConfig.from_dict(faults))

    def stats(self) -> dict[str, object]:
        """Request tallies, faults, and per key fingerprint: the highest list-request arrival rate,
        the shortest gap between two list arrivals, and the list requests refused by the limiter."""
        snapshot = self._stats.snapshot()
        snapshot["max_list_rate_per_key"] = self._limiters["list"].max_rate_per_scope()
        snapshot["min_list_gap_s_per_key"] = self._limiters["list"].min_gap_per_scope()
        snapshot["list_429_per_key"] = self._limiters["list"].refused_per_scope()
        snapshot["max_v4_list_rate_per_key"] = self._limiters["v4_list"].max_rate_per_scope()
        snapshot["min_v4_list_gap_s_per_key"] = self._limiters["v4_list"].min_gap_per_scope()
        snapshot["v4_list_429_per_key"] = self._limiters["v4_list"].refused_per_scope()
        with self._churn_lock:
            snapshot["connections_opened"] = self._connections_opened
            snapshot["arrivals_without_kernel_stamp"] = self._arrivals_without_stamp
        snapshot["clock"] = self.store.now_iso()
        return snapshot

    def truth_trackings(self, api_key: str | None = None) -> list[dict[str, object]]:
        """Every tracking exactly as the list endpoint serves it now (to `api_key`), in list order."""
        store = self.store_for(api_key)
        with store.lock:
            return [store.tracking_json(tid) for tid in store.order]

    def expected_metrics(
        self,
        holidays: Collection[date] = DEFAULT_HOLIDAYS,
        stuck_after_days: int = DEFAULT_STUCK_AFTER_DAYS,
        promises: Iterable[tuple[str, str, int]] = DEFAULT_PROMISES,
        at_risk_within_business_days: int = DEFAULT_AT_RISK_WITHIN_BUSINESS_DAYS,
        api_key: str | None = None,
    ) -> dict[str, list[dict[str, object]]]:
        """Ground-truth marts computed from internal state (see truth.py and truth_journeys.py for
        the definitions); `holidays`, `stuck_after_days`, `promises` and
        `at_risk_within_business_days` are the models' vars of the same meaning; `api_key` picks
        the account with `separate_accounts`."""
        store = self.store_for(api_key)
        with paused_gc(), store.lock:
            facts = list(store.facts())
            journeys = list(store.journey_facts())
        with paused_gc():
            return {
                **expected_metrics(facts),
                **expected_journey_metrics(
                    journeys, holidays, stuck_after_days, promises, at_risk_within_business_days
                ),
            }

    # --- request handling ------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        arrived_at: float | None = None,
    ) -> Outcome:
        """Decide the answer to one request (the handler only does transport).

        `arrived_at` (time.monotonic) is when the request counts as arrived for the rate limit."""
        if path.startswith("/_sandbox/"):
            return Outcome(path, admin_reply(self, method, path, body))
        if path.startswith("/v4/"):
            return self._handle_v4(method, path, query, headers, arrived_at)
        endpoint, params = _route(path)
        fault = self.faults.draw()
        if fault is not None and fault.kind != "error":
            reply = self._answer(method, endpoint, params, query, headers, body, arrived_at)
            return Outcome(endpoint, reply, fault)
        if fault is not None and fault.code is not None:
            reply = gateway_error(fault.code) if fault.code in GATEWAY_CODES else error(fault.code)
            return Outcome(endpoint, reply, fault)
        return Outcome(endpoint, self._answer(method, endpoint, params, query, headers, body, arrived_at))

    def _handle_v4(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], arrived_at: float | None
    ) -> Outcome:
        """A v4 request: the same faults as v2 (error codes in v4's envelope), then the v4 answer."""
        endpoint = V4_LIST_PATH if path.rstrip("/") == V4_LIST_PATH else UNKNOWN_ENDPOINT
        fault = self.faults.draw()
        if fault is not None and fault.code is not None:
            reply = gateway_error(fault.code) if fault.code in GATEWAY_CODES else v4_error(fault.code)
            return Outcome(endpoint, reply, fault)
        return Outcome(endpoint, self._answer_v4(method, endpoint, query, headers, arrived_at), fault)

    def _answer_v4(
        self, method: str, endpoint: str, query: dict[str, str], headers: dict[str, str], arrived_at: float | None
    ) -> Reply:
        if endpoint == UNKNOWN_ENDPOINT:
            return v4_error(404)
        if method != "GET":
            return v4_error(400, "trackings/get takes GET")
        api_key = headers.get(V4_API_KEY_HEADER, "")
        if self.account.key_code(api_key) != 200:
            return v4_error(401)
        if self.faults.take_burst_429():
            self._stats.record_fault("burst_429")
            return v4_error(429)
        if not self._limiters["v4_list"].admit(key_fingerprint(api_key), arrived_at):
            return v4_error(429)
        # With separate_accounts, each key lists its own account's shipments, in v4 as in v2.
        reply = v4_list(self.store_for(api_key), query, self.faults.config.page_cap)
        if reply.code == 200:
            self._after_list_page()
        return reply

    def connection_opened(self) -> None:
        """Counted in stats, so a test can see that closing connections forced new ones."""
        with self._churn_lock:
            self._connections_opened += 1

    def arrival_without_stamp(self) -> None:
        """Counted in stats: such an arrival is when a handler thread saw it, later than the truth."""
        with self._churn_lock:
            self._arrivals_without_stamp += 1

    def close_after_reply(self) -> bool:
        """One seeded draw per v2 reply: should the server close this connection after it?"""
        rate = self.config.close_connection_rate
        if rate <= 0:
            return False
        with self._churn_lock:
            return self._churn.random() < rate

    def _answer(
        self,
        method: str,
        endpoint: str,
        params: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        arrived_at: float | None,
    ) -> Reply:
        if endpoint == UNKNOWN_ENDPOINT:
            return error(404)
        methods, limiter = _ROUTES[endpoint]
        if method not in methods or (len(params) == 3 and method != "GET"):
            return error(405)
        api_key = headers.get(API_KEY_HEADER, "")
        key_code = self.account.key_code(api_key)
        if key_code != 200:
            return error(key_code)
        if endpoint == LIST_PATH and self.faults.take_burst_429():
            self._stats.record_fault("burst_429")
            return error(429)
        if not self._limiters[limiter].admit(key_fingerprint(api_key), arrived_at):
            return error(429)
        try:
            reply = self._dispatch(method, endpoint, params, query, body, api_key)
        except RequestError as refused:
            return error(refused.code, refused.message)
        if endpoint == LIST_PATH and reply.code == 200:
            self._after_list_page()
        return reply

    def _dispatch(
        self, method: str, endpoint: str, params: list[str], query: dict[str, str], body: bytes, api_key: str
    ) -> Reply:
        api = self._account_apis.get(api_key, self.api)
        handlers: dict[str, Callable[[], Reply]] = {
            LIST_PATH: lambda: list_trackings(api.store, query, self.faults.config, self._stats.record_fault),
            "/v2/trackings/post": lambda: api.post(body),
            "/v2/trackings/batch": lambda: api.batch(body),
            "/v2/trackings/updatemore": lambda: api.update_more(body),
            "/v2/trackings/delete": lambda: api.delete_many(body),
            "/v2/trackings/realtime": lambda: api.realtime(body),
            "/v2/trackings/getuserinfo": api.user_info,
            "/v2/trackings/getstatusnumber": lambda: api.status_number(query),
            "/v2/carriers": api.carriers,
            "/v2/carriers/detect": lambda: api.detect(body),
        }
        if endpoint == SINGLE_PATH:
            carrier_code, tracking_number = params[0], params[1]
            if method == "PUT":
                return api.put_one(carrier_code, tracking_number, body)
            if method == "DELETE":
                return api.delete_one(carrier_code, tracking_number)
            return api.get_one(carrier_code, tracking_number)
        return handlers[endpoint]()

    def _after_list_page(self) -> None:
        """Advance the clock every n-th served page, so data changes under a paging client."""
        every = self.config.mutate_every_n_list_requests
        if every <= 0:
            return
        with self._list_lock:
            self._list_served += 1
            due = self._list_served % every == 0
        if due:
            for store in (self.store, *self._other_stores()):
                store.advance(self.config.mutate_advance_minutes * 60)

    def record(self, outcome: Outcome) -> None:
        if outcome.endpoint.startswith("/_sandbox/"):
            return
        fault = outcome.transport_fault
        if fault is not None:
            self._stats.record_fault(fault.kind if fault.code is None else f"error_{fault.code}")
        reset = fault is not None and fault.kind == "reset"
        self._stats.record(outcome.endpoint, None if reset else outcome.reply.code)
