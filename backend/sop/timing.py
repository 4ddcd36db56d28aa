"""When SOP steps are due: fixed times, cron schedules, day N after an anchor, and send windows (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from apscheduler.triggers.cron import CronTrigger

ONCE = "once"


_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler day names (its numbers start at Monday)."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            first, last = 0, 6
        else:
            low, _, high = spec.partition("-")
            first = _WEEKDAY_NAMES.index(low.lower()[:3]) if low.isalpha() else int(low)
            last = (_WEEKDAY_NAMES.index(high.lower()[:3]) if high.isalpha() else int(high)) if high else first
            if step_text and not high:
                last = 6
        if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step > 0):
            raise ValueError(f"invalid day of week {part!r}")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_WEEKDAY_NAMES[day] for day in sorted(days))


def parse_cron(expression: str, tz: tzinfo | None = None) -> CronTrigger:
    """A cron trigger from five crontab fields (standard weekdays: 0/7 Sunday, 1 Monday); ValueError when invalid."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron needs five fields (minute hour day month weekday), got {expression!r}")
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_weekdays(weekday), timezone=tz
        )
    except (ValueError, KeyError) as exc:
        raise ValueError(f"invalid cron {expression!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Window:
    """A daily local send window; `start > end` wraps midnight (20:00-02:00)."""

    start: time
    end: time
    tz: tzinfo

    def _opening(self, day: date) -> tuple[datetime, datetime]:
        opens = datetime.combine(day, self.start, tzinfo=self.tz)
        closes_day = day if self.start < self.end else day + timedelta(days=1)
        return opens, datetime.combine(closes_day, self.end, tzinfo=self.tz)

    def containing(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The opening (start, end) that contains `moment`, or None when it falls outside every opening."""
        local_day = moment.astimezone(self.tz).date()
        for day in (local_day - timedelta(days=1), local_day):
            opens, closes = self._opening(day)
            if opens <= moment < closes:
                return opens, closes
        return None

    def next_start(self, moment: datetime) -> datetime:
        """The first window start strictly after `moment`."""
        local_day = moment.astimezone(self.tz).date()
        for offset in range(3):
            opens, _ = self._opening(local_day + timedelta(days=offset))
            if opens > moment:
                return opens
        raise AssertionError("a daily window opens within three days")  # pragma: no cover

    def earliest(self, moment: datetime) -> datetime:
        """`moment` when it is inside the window, else the next window start."""
        return moment if self.containing(moment) is not None else self.next_start(moment)


def window_of(start: time | None, end: time | None, tz: tzinfo) -> Window | None:
    """The step's window, or None when it may send at any time."""
    if start is None or end is None:
        return None
    return Window(start, end, tz)


def aware(moment: datetime, tz: tzinfo) -> datetime:
    """A naive date-time read in `tz`; aware ones unchanged."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def day_offset_due(anchor: datetime, *, day: int, at: time, tz: tzinfo) -> datetime:
    """Local time `at` on day N after the anchor's local date (day 0 = the anchor's own day)."""
    local_date = anchor.astimezone(tz).date() + timedelta(days=day)
    return datetime.combine(local_date, at, tzinfo=tz)


def cron_occurrences(trigger: CronTrigger, *, after: datetime, until: datetime, limit: int = 500) -> list[datetime]:
    """Fire times of a cron trigger in (after, until], at most `limit`."""
    fires: list[datetime] = []
    previous: datetime | None = None
    cursor = after + timedelta(microseconds=1)
    while len(fires) < limit:
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or fire > until:
            break
        fires.append(fire)
        previous, cursor = fire, fire + timedelta(seconds=1)
    return fires


def _local(moment: datetime) -> str:
    return moment.strftime("%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a due delivery now: send, skip, or wait until `retry_at`."""

    action: Literal["send", "skip", "wait"]
    retry_at: datetime | None = None
    reason: str = ""


def decide(*, due_at: datetime, now: datetime, window: Window | None, missed: str, late_after: timedelta) -> Decision:
    """Whether a delivery due at `due_at` is sent now, given its window and the step's missed-window policy."""
    if window is None:
        if now - due_at <= late_after:
            return Decision("send")
        if missed == "skip":
            return Decision(
                "skip", reason=f"已错过发送时间（晚于计划超过 {int(late_after.total_seconds() // 60)} 分钟）"
            )
        return Decision("send")
    opening = window.containing(due_at)
    if opening is None:
        # Moved outside the window by a retry or a hold: it goes out when the window next opens.
        return Decision("send") if window.containing(now) else Decision("wait", retry_at=window.earliest(now))
    closes = opening[1]
    if now < closes:
        return Decision("send")
    if missed == "skip":
        return Decision("skip", reason=f"已错过发送时段（{_local(closes)} 结束）")
    if missed == "next_window":
        next_start = window.next_start(now) if window.containing(now) is not None else window.earliest(now)
        return Decision("wait", retry_at=next_start, reason="已错过发送时段，改到下个时段开始时发送")
    if window.containing(now) is not None:
        return Decision("send")
    return Decision("wait", retry_at=window.earliest(now), reason="已错过发送时段，时段开放后补发")
