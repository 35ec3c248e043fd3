"""Time formats the v2 API writes: naive courier wall times and ISO-8601 stamps with an offset."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1)


def wall_datetime(local_ts: int) -> datetime:
    """Naive datetime of a courier-local wall time stored as naive epoch seconds."""
    return _EPOCH + timedelta(seconds=local_ts)


def format_wall_time(local_ts: int, seconds: bool) -> str:
    """`YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM`, no zone, as couriers write checkpoint dates."""
    return wall_datetime(local_ts).isoformat(" ", "seconds" if seconds else "minutes")


def format_iso(utc_ts: int, offset_h: int) -> str:
    """ISO-8601 with the account's offset, e.g. `2024-05-01T20:00:00+08:00` (v2 created_at)."""
    zone = timezone(timedelta(hours=offset_h))
    return datetime.fromtimestamp(utc_ts, zone).isoformat()
