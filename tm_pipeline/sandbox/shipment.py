"""One tracked shipment: its whole planned journey, and how much of it TrackingMore has seen.

The generator plans every checkpoint up front (some in the simulated future). What the API
shows is what the last content-changing background refresh saw, so advancing the clock reveals
checkpoints, moves `updated_at` and changes `status` the way a live account does.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import NamedTuple

# Express couriers give up after about 30 days without news; the v2 docs call that `expired`.
EXPIRY_AFTER_S = 30 * 86400
EXPIRABLE_STATUSES = frozenset({"transit", "pickup", "undelivered"})


class Checkpoint(NamedTuple):
    """One courier scan. `local_ts` is the courier-local wall time as naive epoch seconds, already
    cut to the precision the courier writes, so ground truth and the served `Date` agree."""

    utc_ts: int
    local_ts: int
    leg: int  # 0 = origin_info, 1 = destination_info
    description: str
    details: str
    checkpoint_status: str  # as the courier writes it; a few couriers capitalise
    substatus: str
    item_node: str | None


@dataclass(slots=True)
class Shipment:
    """Static facts plus the state the simulated clock moves (`visible`, `expired`, ...)."""

    tracking_id: str
    tracking_number: str
    carrier_code: str
    created_ts: int
    refresh_period_s: int
    events: list[Checkpoint]
    journey_finished: bool
    never_refreshed: bool
    original_country: str
    destination_country: str | None
    destination_country_absent: bool
    destination_info_form: str  # "object" | "null" | "absent"
    destination_carrier: str | None
    date_has_seconds: bool
    status_capitalized: bool
    substatus_known: bool
    archived: bool
    extras: dict[str, object] = field(default_factory=dict)
    refreshed: bool = False
    visible: int = 0
    expired: bool = False
    content_updated_ts: int | None = None
    edited_ts: int | None = None
    status_override: str | None = None

    def refresh_at_or_after(self, ts: int) -> int:
        """First background refresh (every `refresh_period_s` after creation) at or after `ts`."""
        periods = max(1, -(-(ts - self.created_ts) // self.refresh_period_s))
        return self.created_ts + periods * self.refresh_period_s

    def observe(self, now_ts: int) -> bool:
        """Bring the visible state to what the last refresh before `now_ts` saw; True if it changed."""
        if self.never_refreshed or self.expired or now_ts < self.created_ts + self.refresh_period_s:
            return False
        last_refresh = now_ts - (now_ts - self.created_ts) % self.refresh_period_s
        visible = bisect_right(self.events, last_refresh, key=lambda cp: cp.utc_ts)
        expired = False
        if visible:
            last = self.events[visible - 1]
            finished = visible == len(self.events) and self.journey_finished
            expiry_ts = self.refresh_at_or_after(last.utc_ts + EXPIRY_AFTER_S)
            if not finished and last.checkpoint_status.lower() in EXPIRABLE_STATUSES:
                expired = expiry_ts <= last_refresh
        if self.refreshed and visible == self.visible and expired == self.expired:
            return False
        self.refreshed, self.visible, self.expired = True, visible, expired
        if expired:
            self.content_updated_ts = self.refresh_at_or_after(last.utc_ts + EXPIRY_AFTER_S)
        elif visible:
            self.content_updated_ts = self.refresh_at_or_after(self.events[visible - 1].utc_ts)
        else:
            self.content_updated_ts = self.created_ts + self.refresh_period_s
        return True

    def next_change_ts(self) -> int | None:
        """When a later refresh will show something new; None once the shipment is settled."""
        if self.never_refreshed or self.expired:
            return None
        if not self.refreshed:
            return self.created_ts + self.refresh_period_s
        candidates = []
        if self.visible < len(self.events):
            candidates.append(self.refresh_at_or_after(self.events[self.visible].utc_ts))
        elif self.journey_finished:
            return None
        if self.visible and self.events[self.visible - 1].checkpoint_status.lower() in EXPIRABLE_STATUSES:
            candidates.append(self.refresh_at_or_after(self.events[self.visible - 1].utc_ts + EXPIRY_AFTER_S))
        return min(candidates) if candidates else None

    def live_view(self, now_ts: int) -> Shipment:
        """A copy showing everything the courier has scanned by `now_ts` (a realtime query),
        leaving the stored state to the background refreshes."""
        live = copy.copy(self)
        visible = bisect_right(self.events, now_ts, key=lambda cp: cp.utc_ts)
        if not self.expired and (visible != self.visible or not self.refreshed):
            live.refreshed, live.visible, live.content_updated_ts = True, visible, now_ts
        return live

    @property
    def visible_events(self) -> list[Checkpoint]:
        return self.events[: self.visible]

    @property
    def updated_ts(self) -> int | None:
        stamps = [ts for ts in (self.content_updated_ts, self.edited_ts) if ts is not None]
        return max(stamps) if stamps else None

    @property
    def status(self) -> str:
        """Current v2 status, lower case (rendering may capitalise it for messy couriers)."""
        if self.status_override is not None:
            return self.status_override
        if not self.refreshed:
            return "pending"
        if self.expired:
            return "expired"
        if not self.visible:
            return "notfound"
        return self.events[self.visible - 1].checkpoint_status.lower()

    @property
    def track_update(self) -> bool:
        """Whether TrackingMore still refreshes it: not once settled or archived."""
        return not self.archived and self.next_change_ts() is not None
