"""Pacer behaviour with a controllable clock, for the in-process and the Redis implementation alike."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time
from typing import Any

import pytest

from bots.pacer import DEFAULT_TIMEZONE, InProcessPacer, PacingPolicy, QuietHours, RedisPacer, _PacerBase

TEN_AM = datetime(2025, 3, 10, 10, 0, tzinfo=DEFAULT_TIMEZONE).timestamp()
NO_SPACING = {"min_gap_per_chat": 0.0, "switch_jitter": (0.0, 0.0)}


class FakeClock:
    """A clock that only moves when the pacer sleeps (or the test advances it)."""

    def __init__(self, start: float = TEN_AM) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


PacerFactory = Callable[..., _PacerBase]


@pytest.fixture(params=["in_process", "redis"])
def make_pacer(request: pytest.FixtureRequest) -> PacerFactory:
    """Build a pacer of each implementation on a fake clock: make_pacer(clock, **policy_fields)."""
    redis_client = request.getfixturevalue("redis_client") if request.param == "redis" else None

    def factory(clock: FakeClock, overrides: dict[str, PacingPolicy] | None = None, **policy: Any) -> _PacerBase:
        options: dict[str, Any] = {
            "overrides": overrides,
            "clock": clock,
            "sleep": clock.sleep,
            "rng": random.Random(1),
        }
        if redis_client is None:
            return InProcessPacer(PacingPolicy(**policy), **options)
        return RedisPacer(redis_client, PacingPolicy(**policy), key_prefix=f"test:{request.node.name}", **options)

    return factory


def max_in_any_window(grants: list[float], window: float) -> int:
    """Largest number of grants inside any half-open window [t, t + window)."""
    ordered = sorted(grants)
    return max(sum(1 for g in ordered if start <= g < start + window) for start in ordered)


async def test_per_minute_cap_holds_over_any_window(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    pacer = make_pacer(clock, per_minute_cap=5, **NO_SPACING)
    grants = []
    for i in range(17):
        await pacer.acquire("acct", f"chat{i}")
        grants.append(clock.now)
    assert max_in_any_window(grants, 60.0) == 5
    assert grants[5] - grants[0] == pytest.approx(60.0)


async def test_window_length_is_configurable(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    pacer = make_pacer(clock, per_minute_cap=2, window_seconds=10.0, **NO_SPACING)
    waits = [await pacer.reserve("acct", f"chat{i}") for i in range(3)]
    assert waits == [0.0, 0.0, pytest.approx(10.0)]


async def test_same_chat_waits_the_minimum_gap(make_pacer: PacerFactory) -> None:
    pacer = make_pacer(FakeClock())
    assert await pacer.reserve("acct", "chat") == 0.0
    assert await pacer.reserve("acct", "chat") == pytest.approx(3.0)


async def test_recipient_change_waits_a_jitter_within_range(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    pacer = make_pacer(clock)
    gaps = []
    for i in range(30):
        before = clock.now
        await pacer.acquire("acct", f"chat{i}")
        gaps.append(clock.now - before)
    assert gaps[0] == 0.0
    assert all(3.0 <= gap <= 5.0 for gap in gaps[1:])
    assert max(gaps[1:]) - min(gaps[1:]) > 0.5


async def test_jitter_is_not_added_when_the_last_send_is_old_enough(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    pacer = make_pacer(clock)
    await pacer.acquire("acct", "a")
    clock.now += 10
    assert await pacer.reserve("acct", "b") == 0.0


async def test_daily_cap_defers_to_next_local_midnight(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    pacer = make_pacer(clock, daily_cap=3, **NO_SPACING)
    for i in range(3):
        assert await pacer.reserve("acct", f"c{i}") == 0.0
    midnight = datetime(2025, 3, 11, 0, 0, tzinfo=DEFAULT_TIMEZONE).timestamp()
    assert await pacer.reserve("acct", "c3") == pytest.approx(midnight - TEN_AM)


@pytest.mark.parametrize(
    ("local_time", "expected_wait"),
    [
        (time(23, 30), 7.5 * 3600),
        (time(2, 0), 5 * 3600),
        (time(6, 59), 60.0),
        (time(7, 0), 0.0),
        (time(12, 0), 0.0),
        (time(22, 59, 59), 0.0),
    ],
)
async def test_quiet_hours_defer_sends_to_their_end(
    make_pacer: PacerFactory, local_time: time, expected_wait: float
) -> None:
    clock = FakeClock(datetime.combine(datetime(2025, 3, 10), local_time, tzinfo=DEFAULT_TIMEZONE).timestamp())
    pacer = make_pacer(clock, quiet_hours=QuietHours(time(23, 0), time(7, 0)))
    assert await pacer.reserve("acct", "chat") == pytest.approx(expected_wait)


async def test_quiet_hours_follow_the_policy_timezone(make_pacer: PacerFactory) -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    clock = FakeClock(datetime(2025, 3, 10, 23, 30, tzinfo=berlin).timestamp())
    pacer = make_pacer(clock, quiet_hours=QuietHours(time(23, 0), time(7, 0)), timezone=berlin)
    assert await pacer.reserve("acct", "chat") == pytest.approx(7.5 * 3600)


async def test_too_often_backoff_grows_on_repeats_up_to_the_maximum(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    pacer = make_pacer(clock, backoff_initial=60.0, backoff_factor=2.0, backoff_max=300.0)
    pauses = [await pacer.report_too_often("acct") for _ in range(5)]
    assert pauses == [60.0, 120.0, 240.0, 300.0, 300.0]


async def test_too_often_pauses_the_account(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    pacer = make_pacer(clock, backoff_initial=60.0)
    await pacer.report_too_often("acct")
    assert await pacer.reserve("acct", "chat") == pytest.approx(60.0)
    assert await pacer.reserve("other-acct", "chat") == 0.0


async def test_backoff_streak_resets_after_a_calm_period(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    pacer = make_pacer(clock, backoff_initial=60.0, backoff_reset_after=600.0)
    await pacer.report_too_often("acct")
    clock.now += 601
    assert await pacer.report_too_often("acct") == 60.0


async def test_per_account_override_applies_only_to_that_account(make_pacer: PacerFactory) -> None:
    clock = FakeClock()
    strict = PacingPolicy(per_minute_cap=1, **NO_SPACING)  # type: ignore[arg-type]
    pacer = make_pacer(clock, overrides={"strict": strict}, **NO_SPACING)
    assert [await pacer.reserve("strict", f"c{i}") for i in range(2)] == [0.0, pytest.approx(60.0)]
    assert [await pacer.reserve("relaxed", f"c{i}") for i in range(2)] == [0.0, 0.0]


async def test_accounts_have_independent_budgets(make_pacer: PacerFactory) -> None:
    pacer = make_pacer(FakeClock(), per_minute_cap=1, **NO_SPACING)
    assert await pacer.reserve("a", "chat") == 0.0
    assert await pacer.reserve("b", "chat") == 0.0


async def test_redis_keys_are_prefixed_and_expire(redis_client: Any) -> None:
    clock = FakeClock()
    pacer = RedisPacer(redis_client, key_prefix="pfx", clock=clock, sleep=clock.sleep)
    await pacer.reserve("acct", "chat")
    keys = await redis_client.keys("*")
    assert keys
    assert all(key.startswith("pfx:{acct}:") for key in keys)
    ttls = [await redis_client.pttl(key) for key in keys]
    assert all(ttl > 0 for ttl in ttls)


async def test_send_margin_widens_the_chat_gap_and_the_cap_window(make_pacer: PacerFactory) -> None:
    pacer = make_pacer(
        FakeClock(),
        per_minute_cap=2,
        window_seconds=10.0,
        min_gap_per_chat=3.0,
        switch_jitter=(0.0, 0.0),
        send_margin=0.5,
    )
    slots = [await pacer.reserve_at("acct", chat) for chat in ("a", "a", "b")]
    assert slots[1] - slots[0] == pytest.approx(3.5)
    assert slots[2] - slots[0] == pytest.approx(10.5)
