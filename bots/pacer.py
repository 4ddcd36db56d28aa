"""Per-account send pacing (WeChat risk control) shared by every sender, in-process or across processes."""

from __future__ import annotations

import asyncio
import bisect
import math
import random
import time as time_module
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

DEFAULT_TIMEZONE = ZoneInfo("Asia/Shanghai")
_MAX_SEARCH_STEPS = 10_000
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A local-time window with no sends; `start > end` wraps midnight (23:00-07:00)."""

    start: time
    end: time

    def quiet_intervals(self) -> list[tuple[time | None, time | None]]:
        """The window as intervals within one day (None = midnight at that edge)."""
        if self.start == self.end:
            return []
        if self.start < self.end:
            return [(self.start, self.end)]
        return [(None, self.end), (self.start, None)]


@dataclass(frozen=True, slots=True)
class PacingPolicy:
    """Limits for one WeChat account; defaults follow the GeWe README's safe values."""

    per_minute_cap: int = 40
    window_seconds: float = 60.0
    min_gap_per_chat: float = 3.0
    switch_jitter: tuple[float, float] = (3.0, 5.0)
    daily_cap: int | None = 1000
    quiet_hours: QuietHours | None = None
    timezone: tzinfo = DEFAULT_TIMEZONE
    backoff_initial: float = 60.0
    backoff_factor: float = 2.0
    backoff_max: float = 3600.0
    backoff_reset_after: float = 3600.0
    horizon_days: int = 14
    # Added to the per-chat gap and the cap window: the time from a reserved slot to GeWe receiving the
    # message varies by a few milliseconds, so a sender that must keep the limits as GeWe sees them sets it.
    send_margin: float = 0.0


class Segment(NamedTuple):
    """A span of allowed send time (ms) inside local day `day`."""

    day: str
    start_ms: int
    end_ms: int


def allowed_segments(policy: PacingPolicy, now: float) -> list[Segment]:
    """Allowed (non-quiet) spans from the start of today's local day up to the policy horizon."""
    tz = policy.timezone
    today = datetime.fromtimestamp(now, tz).date()
    segments: list[Segment] = []
    for offset in range(policy.horizon_days + 1):
        day = today + timedelta(days=offset)
        day_start = _local_ms(day, time(0), tz)
        day_end = _local_ms(day + timedelta(days=1), time(0), tz)
        spans = [(day_start, day_end)]
        if policy.quiet_hours is not None:
            for quiet_start, quiet_end in policy.quiet_hours.quiet_intervals():
                cut_from = day_start if quiet_start is None else _local_ms(day, quiet_start, tz)
                cut_to = day_end if quiet_end is None else _local_ms(day, quiet_end, tz)
                spans = [piece for span in spans for piece in _subtract(span, cut_from, cut_to)]
        segments.extend(Segment(day.isoformat(), start, end) for start, end in spans if end > start)
    return segments


def _local_ms(day: date, at: time, tz: tzinfo) -> int:
    return int(datetime.combine(day, at, tzinfo=tz).timestamp() * 1000)


def _subtract(span: tuple[int, int], cut_from: int, cut_to: int) -> list[tuple[int, int]]:
    start, end = span
    pieces = []
    if cut_from > start:
        pieces.append((start, min(end, cut_from)))
    if cut_to < end:
        pieces.append((max(start, cut_to), end))
    return [piece for piece in pieces if piece[1] > piece[0]]


class Pacer(Protocol):
    """What every sender uses before calling GeWe."""

    def policy_for(self, account_id: str) -> PacingPolicy:
        """The policy in force for an account."""
        ...

    async def reserve_at(self, account_id: str, chat_id: str) -> float:
        """Reserve the earliest allowed send slot and return it as a Unix timestamp."""
        ...

    async def reserve(self, account_id: str, chat_id: str) -> float:
        """Reserve the earliest allowed send slot and return the seconds to wait for it."""
        ...

    async def acquire(self, account_id: str, chat_id: str) -> None:
        """Wait until a send to `chat_id` is allowed, holding the reserved slot."""
        ...

    async def report_too_often(self, account_id: str) -> float:
        """Pause an account after GeWe said "too often"; returns the pause, growing on repeats."""
        ...


class _PacerBase(ABC):
    def __init__(
        self,
        policy: PacingPolicy | None = None,
        *,
        overrides: Mapping[str, PacingPolicy] | None = None,
        clock: Callable[[], float] = time_module.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.default_policy = policy or PacingPolicy()
        self._overrides = dict(overrides or {})
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()

    def policy_for(self, account_id: str) -> PacingPolicy:
        """The policy in force for an account."""
        return self._overrides.get(account_id, self.default_policy)

    def set_policy(self, account_id: str, policy: PacingPolicy | None) -> None:
        """Override (or with None, reset) one account's policy."""
        if policy is None:
            self._overrides.pop(account_id, None)
        else:
            self._overrides[account_id] = policy

    async def reserve_at(self, account_id: str, chat_id: str) -> float:
        """Reserve the earliest allowed send slot and return it as a Unix timestamp."""
        policy = self.policy_for(account_id)
        now = self._clock()
        low, high = policy.switch_jitter
        request = _SlotRequest(
            now_ms=math.ceil(now * 1000),
            chat_id=chat_id,
            gap_ms=round((policy.min_gap_per_chat + policy.send_margin) * 1000),
            jitter_ms=round(self._rng.uniform(low, high) * 1000),
            window_ms=round((policy.window_seconds + policy.send_margin) * 1000),
            cap=policy.per_minute_cap,
            daily_cap=policy.daily_cap,
            segments=allowed_segments(policy, now),
        )
        return await self._reserve_ms(account_id, request, policy) / 1000

    async def reserve(self, account_id: str, chat_id: str) -> float:
        """Reserve the earliest allowed send slot and return the seconds to wait for it."""
        slot = await self.reserve_at(account_id, chat_id)
        return max(0.0, slot - self._clock())

    async def acquire(self, account_id: str, chat_id: str) -> None:
        """Wait until a send to `chat_id` is allowed, holding the reserved slot."""
        wait = await self.reserve(account_id, chat_id)
        if wait > 0:
            await self._sleep(wait)

    async def report_too_often(self, account_id: str) -> float:
        """Pause an account after GeWe said "too often"; returns the pause, growing on repeats."""
        policy = self.policy_for(account_id)
        now_ms = math.ceil(self._clock() * 1000)
        return await self._report_ms(account_id, now_ms, policy) / 1000

    @abstractmethod
    async def _reserve_ms(self, account_id: str, request: _SlotRequest, policy: PacingPolicy) -> int:
        """Reserve the next slot and return its time in epoch milliseconds."""

    @abstractmethod
    async def _report_ms(self, account_id: str, now_ms: int, policy: PacingPolicy) -> int:
        """Record a frequency error and return the pause in milliseconds."""


@dataclass(frozen=True, slots=True)
class _SlotRequest:
    now_ms: int
    chat_id: str
    gap_ms: int
    jitter_ms: int
    window_ms: int
    cap: int
    daily_cap: int | None
    segments: list[Segment]


def _backoff_ms(policy: PacingPolicy, streak: int) -> int:
    pause = min(policy.backoff_initial * policy.backoff_factor ** (streak - 1), policy.backoff_max)
    return round(pause * 1000)


@dataclass
class _AccountState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    grants_ms: deque[int] = field(default_factory=deque)
    last_ms: int | None = None
    last_chat: str = ""
    chat_last_ms: dict[str, int] = field(default_factory=dict)
    day_counts: dict[str, int] = field(default_factory=dict)
    paused_until_ms: int = 0
    backoff_streak: int = 0
    last_report_ms: int | None = None


class InProcessPacer(_PacerBase):
    """Pacer for a single process: state in memory, one asyncio.Lock per account."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._accounts: dict[str, _AccountState] = {}

    def _state(self, account_id: str) -> _AccountState:
        return self._accounts.setdefault(account_id, _AccountState())

    async def _reserve_ms(self, account_id: str, request: _SlotRequest, policy: PacingPolicy) -> int:
        state = self._state(account_id)
        async with state.lock:
            while state.grants_ms and state.grants_ms[0] <= request.now_ms - request.window_ms:
                state.grants_ms.popleft()
            slot = self._find_slot(state, request)
            state.grants_ms.append(slot)
            state.last_ms = slot
            state.last_chat = request.chat_id
            state.chat_last_ms[request.chat_id] = slot
            day = _segment_day(request.segments, slot)
            state.day_counts[day] = state.day_counts.get(day, 0) + 1
            if request.segments:
                today = request.segments[0].day
                state.day_counts = {d: n for d, n in state.day_counts.items() if d >= today}
            return slot

    @staticmethod
    def _find_slot(state: _AccountState, request: _SlotRequest) -> int:
        # Mirrors _RESERVE_LUA step for step; keep the two in sync.
        slot = max(request.now_ms, state.paused_until_ms)
        if state.last_ms is not None:
            slot = max(slot, state.last_ms)
            if state.last_chat != request.chat_id:
                slot = max(slot, state.last_ms + request.jitter_ms)
        chat_last = state.chat_last_ms.get(request.chat_id)
        if chat_last is not None:
            slot = max(slot, chat_last + request.gap_ms)
        segments = request.segments
        index = 0
        for _ in range(_MAX_SEARCH_STEPS):
            while index < len(segments) and segments[index].end_ms <= slot:
                index += 1
            if index == len(segments):
                break
            segment = segments[index]
            slot = max(slot, segment.start_ms)
            if request.daily_cap is not None and state.day_counts.get(segment.day, 0) >= request.daily_cap:
                next_day = index
                while next_day < len(segments) and segments[next_day].day == segment.day:
                    next_day += 1
                if next_day == len(segments):
                    slot = segments[-1].end_ms
                    break
                slot = segments[next_day].start_ms
                continue
            grants = state.grants_ms
            low = bisect.bisect_right(grants, slot - request.window_ms)
            high = bisect.bisect_right(grants, slot)
            in_window = high - low
            if in_window >= request.cap:
                slot = grants[low + in_window - request.cap] + request.window_ms
                continue
            break
        return slot

    async def _report_ms(self, account_id: str, now_ms: int, policy: PacingPolicy) -> int:
        state = self._state(account_id)
        async with state.lock:
            reset_ms = round(policy.backoff_reset_after * 1000)
            if state.last_report_ms is None or now_ms - state.last_report_ms > reset_ms:
                state.backoff_streak = 0
            state.backoff_streak += 1
            state.last_report_ms = now_ms
            pause = _backoff_ms(policy, state.backoff_streak)
            state.paused_until_ms = max(state.paused_until_ms, now_ms + pause)
            return pause


def _segment_day(segments: list[Segment], slot_ms: int) -> str:
    for segment in segments:
        if segment.start_ms <= slot_ms < segment.end_ms:
            return segment.day
    return segments[-1].day if segments else ""


_RESERVE_LUA = """
local state_key, window_key, chats_key, days_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local chat = ARGV[2]
local gap = tonumber(ARGV[3])
local jitter = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local cap = tonumber(ARGV[6])
local daily_cap = tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
local nseg = tonumber(ARGV[9])
local seg_day, seg_start, seg_end = {}, {}, {}
for i = 1, nseg do
  seg_day[i] = ARGV[9 + (i - 1) * 3 + 1]
  seg_start[i] = tonumber(ARGV[9 + (i - 1) * 3 + 2])
  seg_end[i] = tonumber(ARGV[9 + (i - 1) * 3 + 3])
end
local function fmt(x) return string.format('%d', x) end

redis.call('ZREMRANGEBYSCORE', window_key, '-inf', fmt(now - window))

local slot = math.max(now, tonumber(redis.call('HGET', state_key, 'paused_until') or '0'))
local last = redis.call('HGET', state_key, 'last')
if last then
  last = tonumber(last)
  slot = math.max(slot, last)
  if redis.call('HGET', state_key, 'last_chat') ~= chat then
    slot = math.max(slot, last + jitter)
  end
end
local chat_last = redis.call('HGET', chats_key, chat)
if chat_last then slot = math.max(slot, tonumber(chat_last) + gap) end

local index = 1
local day = ''
for _ = 1, 10000 do
  while index <= nseg and seg_end[index] <= slot do index = index + 1 end
  if index > nseg then
    if nseg > 0 then day = seg_day[nseg] end
    break
  end
  day = seg_day[index]
  if slot < seg_start[index] then slot = seg_start[index] end
  local used = tonumber(redis.call('HGET', days_key, day) or '0')
  if daily_cap >= 0 and used >= daily_cap then
    local next_day = index
    while next_day <= nseg and seg_day[next_day] == day do next_day = next_day + 1 end
    if next_day > nseg then
      slot = seg_end[nseg]
      break
    end
    slot = seg_start[next_day]
  else
    local in_window = redis.call('ZCOUNT', window_key, '(' .. fmt(slot - window), fmt(slot))
    if in_window >= cap then
      local oldest = redis.call('ZRANGEBYSCORE', window_key, '(' .. fmt(slot - window), fmt(slot),
        'WITHSCORES', 'LIMIT', in_window - cap, 1)
      slot = tonumber(oldest[2]) + window
    else
      break
    end
  end
end

local seq = redis.call('HINCRBY', state_key, 'seq', 1)
redis.call('ZADD', window_key, fmt(slot), fmt(slot) .. ':' .. seq)
redis.call('HSET', state_key, 'last', fmt(slot), 'last_chat', chat)
redis.call('HSET', chats_key, chat, fmt(slot))
redis.call('HINCRBY', days_key, day, 1)
local keep = ttl + math.max(0, slot - now)
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, fmt(keep)) end
return slot
"""

_REPORT_LUA = """
local state_key = KEYS[1]
local now = tonumber(ARGV[1])
local initial = tonumber(ARGV[2])
local factor = tonumber(ARGV[3])
local max_pause = tonumber(ARGV[4])
local reset_after = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local last_report = redis.call('HGET', state_key, 'last_report')
local streak = tonumber(redis.call('HGET', state_key, 'streak') or '0')
if (not last_report) or now - tonumber(last_report) > reset_after then streak = 0 end
streak = streak + 1
local pause = math.floor(math.min(initial * factor ^ (streak - 1), max_pause) + 0.5)
local paused_until = math.max(tonumber(redis.call('HGET', state_key, 'paused_until') or '0'), now + pause)
redis.call('HSET', state_key, 'streak', streak, 'last_report', string.format('%d', now),
  'paused_until', string.format('%d', paused_until))
redis.call('PEXPIRE', state_key, string.format('%d', ttl + pause))
return pause
"""


class RedisPacer(_PacerBase):
    """Pacer whose budget is shared by every process using the same Redis (atomic Lua per account)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        policy: PacingPolicy | None = None,
        *,
        key_prefix: str = "salesbot:pacer",
        **kwargs: Any,
    ) -> None:
        super().__init__(policy, **kwargs)
        self._redis = redis
        self._key_prefix = key_prefix
        self._reserve_script = redis.register_script(_RESERVE_LUA)
        self._report_script = redis.register_script(_REPORT_LUA)

    def _keys(self, account_id: str) -> list[str]:
        # The hash tag keeps one account's keys in one cluster slot.
        base = f"{self._key_prefix}:{{{account_id}}}"
        return [f"{base}:state", f"{base}:window", f"{base}:chats", f"{base}:days"]

    @staticmethod
    def _ttl_ms(policy: PacingPolicy) -> int:
        horizon = max(policy.window_seconds, policy.min_gap_per_chat, policy.backoff_reset_after)
        return round(horizon * 1000) + 2 * _DAY_MS

    async def _reserve_ms(self, account_id: str, request: _SlotRequest, policy: PacingPolicy) -> int:
        args: list[str | int] = [
            request.now_ms,
            request.chat_id,
            request.gap_ms,
            request.jitter_ms,
            request.window_ms,
            request.cap,
            -1 if request.daily_cap is None else request.daily_cap,
            self._ttl_ms(policy),
            len(request.segments),
        ]
        for segment in request.segments:
            args.extend((segment.day, segment.start_ms, segment.end_ms))
        result = await self._reserve_script(keys=self._keys(account_id), args=args)
        return int(result)

    async def _report_ms(self, account_id: str, now_ms: int, policy: PacingPolicy) -> int:
        args = [
            now_ms,
            round(policy.backoff_initial * 1000),
            policy.backoff_factor,
            round(policy.backoff_max * 1000),
            round(policy.backoff_reset_after * 1000),
            self._ttl_ms(policy),
        ]
        result = await self._report_script(keys=self._keys(account_id)[:1], args=args)
        return int(result)
