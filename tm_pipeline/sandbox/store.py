"""The sandbox account: all shipments, their pre-serialised JSON, and the list order.

Each tracking is serialised once (orjson) and re-serialised only when it changes, so a 2000-item
page is a join of ready bytes. The list order is `created_at` descending, then `id` ascending.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable

import orjson

from .config import SandboxConfig
from .generator import generate_shipments
from .render import render_tracking
from .shipment import Shipment
from .timefmt import wall_datetime
from .truth import ShipmentFacts


def _order_key(shipment: Shipment) -> tuple[int, str]:
    return (-shipment.created_ts, shipment.tracking_id)


class TrackingStore:
    """Thread-safe holder of the account state; every read and write takes `lock`."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.now_ts = int(config.start_at.timestamp())
        self.shipments: dict[str, Shipment] = {}
        self.rendered: dict[str, bytes] = {}
        history_s = int(config.history_days * 86400)
        # Millions of long-lived objects: collecting during the build only burns time, and
        # freezing them afterwards keeps later collections from pausing the server.
        gc.disable()
        try:
            for shipment in generate_shipments(config.seed, config.trackings, self.now_ts, history_s):
                shipment.observe(self.now_ts)
                self._put(shipment)
            self.order: list[str] = sorted(self.shipments, key=lambda tid: _order_key(self.shipments[tid]))
        finally:
            gc.freeze()
            gc.enable()

    def _put(self, shipment: Shipment) -> None:
        self.shipments[shipment.tracking_id] = shipment
        self.rerender(shipment)

    def rerender(self, shipment: Shipment) -> None:
        """Refresh the cached JSON bytes after `shipment` changed."""
        encoded = orjson.dumps(render_tracking(shipment, self.config.account_utc_offset_h))
        # orjson's bytes keep their growth buffer; an exact copy is ~10x smaller for 1M items.
        self.rendered[shipment.tracking_id] = memoryview(encoded).tobytes()

    def list_page(self, ids: list[str], page: int, limit: int) -> list[bytes]:
        """The pre-serialised items of one page of `ids` (already in list order)."""
        start = (page - 1) * limit
        return [self.rendered[tid] for tid in ids[start : start + limit]]

    def tracking_json(self, tracking_id: str) -> dict[str, object]:
        """A tracking as served, decoded again (for truth dumps and single-item endpoints)."""
        return orjson.loads(self.rendered[tracking_id])

    def facts(self) -> Iterable[ShipmentFacts]:
        """The metric inputs of every tracking, read from internal state, not from served JSON."""
        for shipment in self.shipments.values():
            destination = None if shipment.destination_country_absent else shipment.destination_country
            yield ShipmentFacts(
                tracking_id=shipment.tracking_id,
                carrier_code=shipment.carrier_code,
                status=shipment.status.capitalize() if shipment.status_capitalized else shipment.status,
                original_country=shipment.original_country,
                destination_country=destination,
                checkpoints=tuple(
                    (wall_datetime(cp.local_ts), cp.checkpoint_status) for cp in shipment.visible_events
                ),
            )
