"""Durations, instants and calendar periods.

Instants are integers: seconds since the Unix epoch, UTC. Calendar periods are computed
in the contact's time zone, so a day or a week follows its local midnight across DST.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(text: str) -> int:
    """Parse ``36h``, ``7d``, ``2w``, ``90m`` or ``30s`` into seconds."""
    m = _DURATION.match(text)
    if not m:
        msg = f"expected a duration such as '36h', '7d' or '2w', got {text!r}"
        raise ValueError(msg)
    return int(float(m.group(1)) * _UNIT_SECONDS[m.group(2)])


def format_duration(seconds: int) -> str:
    """Shortest exact rendering of a duration: 604800 -> '7d'."""
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """A cached ZoneInfo; raises ValueError naming the zone when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Paris')"
        raise ValueError(msg) from exc


def parse_instant(text: str, default_tz: str) -> int:
    """Parse ISO 8601; a value without an offset is read in ``default_tz``."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError as exc:
        msg = f"expected an ISO 8601 timestamp, got {text!r}"
        raise ValueError(msg) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(default_tz))
    return int(dt.timestamp())


def to_iso(ts: int | None, tz: str = "UTC") -> str | None:
    """Render an instant as ISO 8601 in ``tz``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, zone(tz)).isoformat()


def now() -> int:
    """The clock: epoch seconds, UTC."""
    return int(datetime.now(UTC).timestamp())


def _local_midnight(d: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(d, time(0), tzinfo=tz).timestamp())


def calendar_period(ts: int, period: str, tz_name: str, week_start: int = 0) -> tuple[int, int]:
    """The calendar period (``day``, ``week`` or ``month``) containing ``ts``: ``[start, end)``.

    ``week_start`` is 0 for Monday … 6 for Sunday.
    """
    tz = zone(tz_name)
    local = datetime.fromtimestamp(ts, tz).date()
    if period == "day":
        start = local
        end = local + timedelta(days=1)
    elif period == "week":
        start = local - timedelta(days=(local.weekday() - week_start) % 7)
        end = start + timedelta(days=7)
    elif period == "month":
        start = local.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        msg = f"unknown calendar period {period!r} (expected day, week or month)"
        raise ValueError(msg)
    return _local_midnight(start, tz), _local_midnight(end, tz)


def local_weekday_minute(ts: int, tz_name: str) -> tuple[int, int]:
    """(weekday 0=Monday, minute of the day) of ``ts`` in ``tz_name``."""
    dt = datetime.fromtimestamp(ts, zone(tz_name))
    return dt.weekday(), dt.hour * 60 + dt.minute
