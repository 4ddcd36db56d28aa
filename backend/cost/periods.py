"""Days and budget windows, counted in China time (the business day of the teams using the platform)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from backend.core.db import utcnow

REPORT_TZ = ZoneInfo("Asia/Shanghai")


def local_day(moment: datetime) -> date:
    """The China-time calendar day of an instant."""
    return moment.astimezone(REPORT_TZ).date()


def today() -> date:
    """Today in China time."""
    return local_day(utcnow())


def window_start(period: str, day: date) -> date:
    """First day of the daily or monthly window containing a day."""
    return day if period == "daily" else day.replace(day=1)
