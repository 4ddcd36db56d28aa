"""Due times, send windows and missed-window decisions (pure)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.sop.timing import Window, cron_occurrences, day_offset_due, decide, parse_cron

TZ = ZoneInfo("Asia/Shanghai")
DAY = Window(time(9), time(21), TZ)
NIGHT = Window(time(20), time(2), TZ)
LATE_AFTER = timedelta(minutes=15)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(
    ("window", "moment", "earliest"),
    [
        (DAY, at(2, 10), at(2, 10)),
        (DAY, at(2, 8), at(2, 9)),
        (DAY, at(2, 21), at(3, 9)),
        (NIGHT, at(2, 23), at(2, 23)),
        (NIGHT, at(3, 1), at(3, 1)),
        (NIGHT, at(3, 3), at(3, 20)),
    ],
)
def test_earliest_moves_a_time_into_the_window(window: Window, moment: datetime, earliest: datetime) -> None:
    assert window.earliest(moment) == earliest


def test_day_offset_counts_local_days_from_the_anchor() -> None:
    added = datetime(2026, 3, 1, 17, 30, tzinfo=ZoneInfo("UTC"))  # 01:30 on 2 March in Shanghai
    assert day_offset_due(added, day=2, at=time(10), tz=TZ) == at(4, 10)


def test_cron_occurrences_lists_fire_times_up_to_the_horizon() -> None:
    mondays = cron_occurrences(parse_cron("0 10 * * 1", TZ), after=at(1, 0), until=at(20, 0))
    assert mondays == [at(2, 10), at(9, 10), at(16, 10)]


def test_parse_cron_rejects_a_malformed_expression() -> None:
    with pytest.raises(ValueError, match="five fields"):
        parse_cron("0 10 * *")


@pytest.mark.parametrize(
    ("due", "now", "window", "missed", "action", "retry_at"),
    [
        (at(2, 10), at(2, 10, 5), DAY, "skip", "send", None),
        (at(2, 10), at(2, 20, 59), DAY, "skip", "send", None),
        (at(2, 10), at(3, 8), DAY, "late", "wait", at(3, 9)),
        (at(2, 10), at(3, 11), DAY, "late", "send", None),
        (at(2, 10), at(3, 11), DAY, "skip", "skip", None),
        (at(2, 10), at(3, 11), DAY, "next_window", "wait", at(4, 9)),
        (at(2, 10), at(3, 8), DAY, "next_window", "wait", at(3, 9)),
        (at(2, 21, 30), at(2, 22), DAY, "skip", "wait", at(3, 9)),
        (at(2, 10), at(2, 10, 10), None, "skip", "send", None),
        (at(2, 10), at(2, 11), None, "skip", "skip", None),
        (at(2, 10), at(2, 11), None, "late", "send", None),
    ],
)
def test_decide_follows_the_window_and_the_missed_policy(
    due: datetime, now: datetime, window: Window | None, missed: str, action: str, retry_at: datetime | None
) -> None:
    decision = decide(due_at=due, now=now, window=window, missed=missed, late_after=LATE_AFTER)
    assert (decision.action, decision.retry_at) == (action, retry_at)


@pytest.mark.parametrize(
    ("weekday", "first_fires"),
    [
        ("1", [at(2, 10), at(9, 10)]),
        ("0", [at(8, 10), at(15, 10)]),
        ("7", [at(8, 10), at(15, 10)]),
        ("1-2", [at(2, 10), at(3, 10)]),
        ("sat,sun", [at(7, 10), at(8, 10)]),
    ],
)
def test_cron_weekdays_count_from_sunday_as_crontab_does(weekday: str, first_fires: list[datetime]) -> None:
    fires = cron_occurrences(parse_cron(f"0 10 * * {weekday}", TZ), after=at(1, 12), until=at(31, 0))
    assert fires[:2] == first_fires
