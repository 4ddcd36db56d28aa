"""Business calendar of the agent: days are China days (Asia/Shanghai)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def window_start(anchor: date, days: int) -> datetime:
    """Start of a window of `days` China days ending with the anchor day (inclusive)."""
    return datetime.combine(anchor - timedelta(days=days - 1), time(0), tzinfo=TZ)


def day_start(day: date) -> datetime:
    """Midnight China time of a day."""
    return datetime.combine(day, time(0), tzinfo=TZ)
