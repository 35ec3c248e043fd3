"""The sandbox account: all shipments, their pre-serialised JSON, the list order and the clock.

Each tracking is serialised once (orjson) and re-serialised only when it changes, so a 2000-item
page is a join of ready bytes. The list order is `created_at` descending, then `id` ascending.
Advancing the simulated clock reveals planned checkpoints, moves `updated_at`, expires stalled
shipments and creates new trackings at the top of the order — what breaks naive paging.
"""

from __future__ import annotations

import heapq
import random
import threading
from bisect import insort
from collections import OrderedDict
from collections.abc import Callable, Iterable

import orjson

from .config import SandboxConfig
from .filters import ListFilters, predicate
from .gcpause import paused_gc
from .generator import generate_shipments, make_shipment
from .render import render_tracking
from .shipment import Shipment
from .timefmt import format_iso, wall_datetime
from .truth import ShipmentFacts
from .truth_journeys import JourneyCheckpoint, JourneyFacts

_FILTER_CACHE_SIZE = 16
# What a client-created tracking shows for fields the client did not send.
_UNSET_EXTRAS: dict[str, object] = {
    "order_create_time": None,
    "customer_email": "",
    "customer_name": None,
    "order_id": None,
    "comment": None,
    "title": "",
    "logistics_channel": "",
}


class TrackingStore:
    """Thread-safe holder of the account state; every read and write takes `lock`."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.now_ts = int(config.start_at.timestamp())
        self.version = 0
        self.shipments: dict[str, Shipment] = {}
        self.rendered: dict[str, bytes] = {}
        self.by_number: dict[tuple[str, str], str] = {}
        self._schedule: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._heap_ready = False
        self._filtered: OrderedDict[tuple[ListFilters, int], list[str]] = OrderedDict()
        # Later arrivals and API creations draw from their own stream so the initial data stays
        # identical whatever happens afterwards.
        self._later_rng = random.Random(config.seed ^ 0x5EED)
        self._new_per_s = (
            config.new_trackings_per_day
            if config.new_trackings_per_day is not None
            else config.trackings / max(config.history_days, 1e-9)
        ) / 86400
        self._new_carry = 0.0
        # Called (under `lock`) with the ids a clock advance changed or created: the webhook sender.
        self.on_advance: Callable[[list[str]], None] | None = None
        history_s = int(config.history_days * 86400)
        with paused_gc(freeze_after=True):
            for shipment in generate_shipments(config.seed, config.trackings, self.now_ts, history_s):
                self._add(shipment)
            self.order: list[str] = sorted(self.shipments, key=self._order_key)
            heapq.heapify(self._heap)
            self._heap_ready = True

    def _order_key(self, tracking_id: str) -> tuple[int, str]:
        return (-self.shipments[tracking_id].created_ts, tracking_id)

    def _add(self, shipment: Shipment) -> None:
        shipment.observe(self.now_ts)
        self.shipments[shipment.tracking_id] = shipment
        self.by_number[(shipment.carrier_code, shipment.tracking_number)] = shipment.tracking_id
        self._reschedule(shipment)
        self.rerender(shipment)

    def _reschedule(self, shipment: Shipment) -> None:
        next_ts = shipment.next_change_ts()
        if next_ts is None:
            self._schedule.pop(shipment.tracking_id, None)
            return
        self._schedule[shipment.tracking_id] = next_ts
        if self._heap_ready:
            heapq.heappush(self._heap, (next_ts, shipment.tracking_id))
        else:
            self._heap.append((next_ts, shipment.tracking_id))  # heapified once after the build

    def render_bytes(self, shipment: Shipment) -> bytes:
        encoded = orjson.dumps(render_tracking(shipment, self.config.account_utc_offset_h))
        # orjson's bytes keep their growth buffer; an exact copy drops it, which adds up over an account.
        return memoryview(encoded).tobytes()

    def rerender(self, shipment: Shipment) -> None:
        """Refresh the cached JSON bytes after `shipment` changed."""
        self.rendered[shipment.tracking_id] = self.render_bytes(shipment)

    # --- reads ---------------------------------------------------------------------------

    def matching_ids(self, filters: ListFilters) -> list[str]:
        """Ids in list order that pass `filters`; cached until the account next changes."""
        if not filters.active:
            return self.order
        cache_key = (filters, self.version)
        cached = self._filtered.get(cache_key)
        if cached is None:
            test = predicate(filters, self.config.account_utc_offset_h)
            cached = [tid for tid in self.order if test(self.shipments[tid])]
            self._filtered[cache_key] = cached
            while len(self._filtered) > _FILTER_CACHE_SIZE:
                self._filtered.popitem(last=False)
        return cached

    def list_page(self, ids: list[str], page: int, limit: int) -> list[bytes]:
        """The pre-serialised items of one page of `ids` (already in list order)."""
        start = (page - 1) * limit
        return [self.rendered[tid] for tid in ids[start : start + limit]]

    def find(self, carrier_code: str, tracking_number: str) -> Shipment | None:
        tracking_id = self.by_number.get((carrier_code, tracking_number))
        return None if tracking_id is None else self.shipments[tracking_id]

    def tracking_json(self, tracking_id: str) -> dict[str, object]:
        """A tracking as served, decoded again (for truth dumps and single-item endpoints)."""
        return orjson.loads(self.rendered[tracking_id])

    def now_iso(self) -> str:
        return format_iso(self.now_ts, self.config.account_utc_offset_h)

    def facts(self) -> Iterable[ShipmentFacts]:
        """The metric inputs of every tracking, read from internal state, not from served JSON."""
        for shipment in self.shipments.values():
            yield ShipmentFacts(
                tracking_id=shipment.tracking_id,
                carrier_code=shipment.carrier_code,
                status=shipment.status.capitalize() if shipment.status_capitalized else shipment.status,
                original_country=shipment.original_country,
                destination_country=None
                if shipment.destination_country_absent
                else shipment.destination_country,
                checkpoints=tuple(
                    (wall_datetime(cp.local_ts), cp.checkpoint_status) for cp in shipment.visible_events
                ),
            )

    def journey_facts(self) -> Iterable[JourneyFacts]:
        """The journey-metric inputs of every tracking, from internal state (UTC as naive UTC)."""
        for shipment in self.shipments.values():
            updated_ts = shipment.updated_ts
            yield JourneyFacts(
                tracking_id=shipment.tracking_id,
                tracking_number=shipment.tracking_number,
                carrier_code=shipment.carrier_code,
                status=shipment.status,
                original_country=shipment.original_country,
                destination_country=None
                if shipment.destination_country_absent
                else shipment.destination_country,
                created_at_utc=wall_datetime(shipment.created_ts),
                updated_at_utc=None if updated_ts is None else wall_datetime(updated_ts),
                checkpoints=tuple(
                    JourneyCheckpoint(wall_datetime(cp.local_ts), cp.checkpoint_status, cp.substatus, cp.item_node)
                    for cp in shipment.visible_events
                ),
            )

    # --- writes (callers hold `lock`) ----------------------------------------------------

    def create(self, carrier_code: str, tracking_number: str, extras: dict[str, object]) -> Shipment:
        """A client-created tracking at the current clock: pending until its first refresh."""
        shipment = make_shipment(
            self._later_rng, self.now_ts, self.by_number, self.now_ts, carrier_code, tracking_number
        )
        shipment.extras = {**_UNSET_EXTRAS, **extras}
        shipment.archived = False
        self._add(shipment)
        insort(self.order, shipment.tracking_id, key=self._order_key)
        self.version += 1
        return shipment

    def edited(self, shipment: Shipment) -> None:
        """Record a client edit: `updated_at` moves to now and the cached JSON is rebuilt."""
        shipment.edited_ts = self.now_ts
        self.rerender(shipment)
        self._reschedule(shipment)
        self.version += 1

    def delete(self, shipment: Shipment) -> None:
        del self.shipments[shipment.tracking_id]
        del self.rendered[shipment.tracking_id]
        del self.by_number[(shipment.carrier_code, shipment.tracking_number)]
        self._schedule.pop(shipment.tracking_id, None)
        self.order.remove(shipment.tracking_id)
        self.version += 1

    def advance(self, seconds: float) -> dict[str, object]:
        """Move the simulated clock: refresh due shipments and add the trackings created meanwhile."""
        with self.lock:
            start_ts, end_ts = self.now_ts, self.now_ts + int(seconds)
            created_ids = self._create_arrivals(start_ts, end_ts)
            self.now_ts = end_ts
            changed_ids: list[str] = []
            while self._heap and self._heap[0][0] <= end_ts:
                due_ts, tracking_id = heapq.heappop(self._heap)
                shipment = self.shipments.get(tracking_id)
                if shipment is None or self._schedule.get(tracking_id) != due_ts:
                    continue  # deleted, or rescheduled since this entry was pushed
                if shipment.observe(end_ts):
                    self.rerender(shipment)
                    changed_ids.append(tracking_id)
                self._reschedule(shipment)
            self.version += 1
            if self.on_advance is not None:
                created = set(created_ids)
                self.on_advance(created_ids + [tid for tid in dict.fromkeys(changed_ids) if tid not in created])
            return {"now": self.now_iso(), "changed": len(changed_ids), "created": len(created_ids)}

    def _create_arrivals(self, start_ts: int, end_ts: int) -> list[str]:
        self._new_carry += self._new_per_s * (end_ts - start_ts)
        count = int(self._new_carry)
        self._new_carry -= count
        stamps = sorted(
            start_ts + 1 + int(self._later_rng.random() * (end_ts - start_ts)) for _ in range(count)
        )
        created_ids = []
        for created_ts in stamps:
            shipment = make_shipment(self._later_rng, created_ts, self.by_number, end_ts)
            self._add(shipment)
            insort(self.order, shipment.tracking_id, key=self._order_key)
            created_ids.append(shipment.tracking_id)
        return created_ids
