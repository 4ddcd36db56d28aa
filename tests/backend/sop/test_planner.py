"""Planning: one row per (sop, step, target, occurrence), dynamic targets, recurring steps, completion."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.sop.models import Sop
from tests.backend.sop.support import SopWorld

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_planning_again_adds_no_duplicate_rows(sop_world: SopWorld) -> None:
    from backend.sop.planner import plan

    world = sop_world
    await world.add_friends(world.accounts[0], 3, tags=["A"])
    sop = await world.create(
        {"name": "一次", "targets": {"tags": ["A"]}, "steps": [world.step("一"), world.step("二")]}
    )
    await world.control("start", sop)
    async with world.db.sessionmaker() as session:
        stored = await session.get(Sop, sop.id)
        assert stored is not None
        stored.planned_until = None  # as if planning ran for the first time again
        await plan(session, sop=stored, now=world.clock.now, horizon=timedelta(hours=24))
        await session.commit()

    assert len(await world.deliveries(sop)) == 6


async def test_a_dynamic_sop_picks_up_friends_who_join_the_tag(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 1, tags=["新客"])
    sop = await world.create(
        {"name": "欢迎", "dynamic": True, "targets": {"tags": ["新客"]}, "steps": [world.step("欢迎")]}
    )
    await world.control("start", sop)
    runtime = world.runtime()

    await world.add_friends(world.accounts[1], 2, tags=["新客"], prefix="late")
    await runtime.leader_tick()
    await world.dispatcher().drain()

    assert len(await world.deliveries(sop)) == 3
    assert len(world.received()) == 3


async def test_day_n_of_friends_added_long_before_the_start_is_skipped_not_sent(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 1, tags=["A"], added_at=world.clock.now - timedelta(days=30))
    sop = await world.create(
        {
            "name": "第1天",
            "targets": {"tags": ["A"]},
            "steps": [world.step("第1天", timing={"kind": "day_offset", "day": 1, "time": "10:00"})],
        }
    )
    await world.control("start", sop)

    [delivery] = await world.deliveries(sop)
    assert (delivery.status, delivery.error) == ("skipped", "SOP 启动前该天数已过，不再补发")


async def test_a_weekly_step_is_planned_one_row_per_occurrence_up_to_the_horizon(sop_world: SopWorld) -> None:
    from backend.sop.planner import plan

    world = sop_world
    world.clock.now = datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI)  # a Sunday
    await world.add_friends(world.accounts[0], 2, tags=["A"])
    sop = await world.create(
        {
            "name": "每周一",
            "targets": {"tags": ["A"]},
            "steps": [world.step("周一好", timing={"kind": "cron", "cron": "0 10 * * 1"})],
        }
    )
    await world.control("start", sop)
    first = await world.deliveries(sop)
    async with world.db.sessionmaker() as session:
        stored = await session.get(Sop, sop.id)
        assert stored is not None
        await plan(session, sop=stored, now=world.clock.now + timedelta(days=7), horizon=timedelta(hours=24))
        await session.commit()

    later = await world.deliveries(sop)
    assert {d.due_at for d in first} == {datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)}
    assert len(first) == 2
    assert sorted({d.occurrence for d in later}) == ["20260302T0200Z", "20260309T0200Z"]
    assert len(later) == 4


async def test_a_sop_with_everything_delivered_is_completed_by_the_leader(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 2, tags=["A"])
    sop = await world.create({"name": "完成", "targets": {"tags": ["A"]}, "steps": [world.step("一")]})
    await world.control("start", sop)
    runtime = world.runtime()

    await runtime.leader_tick()
    before = await world.status(sop)
    await world.dispatcher().drain()
    await runtime.leader_tick()

    async with world.db.sessionmaker() as session:
        finished_at = await session.scalar(select(Sop.finished_at).where(Sop.id == sop.id))
    assert (before, await world.status(sop)) == ("running", "completed")
    assert finished_at == world.clock.now


async def test_day_n_earlier_on_the_start_day_is_still_sent(sop_world: SopWorld) -> None:
    world = sop_world
    world.clock.now = datetime(2026, 3, 2, 15, 0, tzinfo=SHANGHAI)
    await world.add_friends(world.accounts[0], 1, tags=["A"], added_at=world.clock.now - timedelta(hours=2))
    sop = await world.create(
        {
            "name": "当天欢迎",
            "targets": {"tags": ["A"]},
            "steps": [
                world.step(
                    "欢迎",
                    timing={"kind": "day_offset", "day": 0, "time": "10:00"},
                    window_start="09:00",
                    window_end="21:00",
                )
            ],
        }
    )
    await world.control("start", sop)

    await world.dispatcher().drain()

    [delivery] = await world.deliveries(sop)
    assert (delivery.status, delivery.late) == ("sent", True)
