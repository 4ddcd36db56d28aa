"""Dispatch: each delivery sent once through GeWe, control, day-N timing, the conversation holder, stop rules, errors."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from backend.messages.models import Conversation, Message
from backend.realtime.models import RealtimeEvent
from backend.sop.models import SopDelivery
from bots.pacer import PacingPolicy
from tests.backend.accounts.support import wait_until
from tests.backend.sop.support import SopWorld

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_each_planned_delivery_is_sent_once_with_gewe_ids(sop_world: SopWorld) -> None:
    world = sop_world
    for account in world.accounts:
        await world.add_friends(account, 3, tags=["VIP"])
    sop = await world.create(
        {"name": "新品通知", "targets": {"tags": ["VIP"]}, "steps": [world.step("{昵称}您好"), world.step("新品到了")]}
    )
    await world.control("start", sop)
    dispatcher = world.dispatcher()

    await dispatcher.drain()
    await dispatcher.drain()

    deliveries = await world.deliveries(sop)
    assert len(deliveries) == 12
    assert {delivery.status for delivery in deliveries} == {"sent"}
    assert all(delivery.gewe_new_msg_id for delivery in deliveries)
    received = world.received()
    assert len(received) == 12
    assert len({(message.to_wxid, message.content) for message in received}) == 12
    assert any(message.content.startswith("客户f0您好") for message in received)


async def test_sent_messages_are_stored_as_sop_sends_in_their_conversations(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 2, tags=["新客"])
    sop = await world.create({"name": "欢迎", "targets": {"tags": ["新客"]}, "steps": [world.step("欢迎光临")]})
    await world.control("start", sop)

    await world.dispatcher().drain()

    async with world.db.sessionmaker() as session:
        messages = list(await session.scalars(select(Message).where(Message.sent_by == "sop")))
    assert len(messages) == 2
    assert {message.status for message in messages} == {"sent"}
    assert all(message.payload["sop"]["sop_id"] == str(sop.id) for message in messages)


async def test_pause_stops_new_sends_within_one_tick_and_resume_finishes(sop_world: SopWorld) -> None:
    world = sop_world
    world.pacer.default_policy = PacingPolicy(
        per_minute_cap=10_000, min_gap_per_chat=0.0, switch_jitter=(0.05, 0.05), daily_cap=None
    )
    await world.add_friends(world.accounts[0], 30, tags=["A"])
    sop = await world.create({"name": "慢发", "targets": {"tags": ["A"]}, "steps": [world.step("第一条")]})
    await world.control("start", sop)
    dispatcher = world.dispatcher()
    draining = asyncio.create_task(dispatcher.drain())

    async def five_sent() -> bool:
        return len(world.received()) >= 5

    await wait_until(five_sent)

    await world.control("pause", sop)
    at_pause = len(world.received())
    await draining
    await asyncio.sleep(0.2)

    assert len(world.received()) <= at_pause + 1  # the one send under way may finish
    paused = await world.deliveries(sop)
    assert {delivery.status for delivery in paused} <= {"sent", "pending"}
    await world.control("resume", sop)
    await dispatcher.drain()
    assert len(world.received()) == 30
    assert {delivery.status for delivery in await world.deliveries(sop)} == {"sent"}


async def test_cancel_leaves_every_delivery_sent_or_cancelled(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 6, tags=["A"])
    sop = await world.create(
        {"name": "取消", "targets": {"tags": ["A"]}, "steps": [world.step("一"), world.step("二")]}
    )
    await world.control("start", sop)
    dispatcher = world.dispatcher()
    job = await dispatcher._claim(world.accounts[0].id)
    assert job is not None
    await dispatcher._deliver(job)

    await world.control("cancel", sop)
    await dispatcher.drain()

    statuses = [delivery.status for delivery in await world.deliveries(sop)]
    assert statuses.count("sent") == 1
    assert statuses.count("cancelled") == 11
    assert await world.status(sop) == "cancelled"
    assert len(world.received()) == 1


async def test_day_n_step_goes_out_on_day_n_at_its_time(sop_world: SopWorld) -> None:
    world = sop_world
    day0 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    world.clock.now = day0
    await world.add_friends(world.accounts[0], 1, tags=["新好友"], added_at=day0 + timedelta(minutes=30))
    sop = await world.create(
        {
            "name": "新好友第2天",
            "dynamic": True,
            "targets": {"tags": ["新好友"]},
            "steps": [
                world.step(
                    "第2天问候",
                    timing={"kind": "day_offset", "day": 2, "time": "10:00"},
                    window_start="09:00",
                    window_end="21:00",
                )
            ],
        }
    )
    world.clock.now = day0 + timedelta(hours=1)
    await world.control("start", sop)
    dispatcher = world.dispatcher()

    for moment in (day0 + timedelta(days=1, hours=3), day0 + timedelta(days=2, hours=0, minutes=59, seconds=59)):
        world.clock.now = moment
        await dispatcher.drain()
        assert world.received() == []
    world.clock.now = datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)
    await dispatcher.drain()

    [delivery] = await world.deliveries(sop)
    assert delivery.status == "sent"
    assert delivery.due_at == datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)
    assert delivery.sent_at == datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)
    assert delivery.late is False
    assert [message.content for message in world.received()] == ["第2天问候"]


async def _hold_as_person(world: SopWorld, wxid: str) -> None:
    async with world.db.sessionmaker() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.account_id == world.accounts[0].id, Conversation.chat_wxid == wxid)
            .values(
                mode="human",
                holder="staff",
                holder_user_id=world.manager.id,
                lease_version=Conversation.lease_version + 1,
            )
        )
        await session.commit()


async def _conversation_for(world: SopWorld, wxid: str) -> None:
    from backend.messages.service import upsert_conversation

    async with world.db.sessionmaker() as session:
        await upsert_conversation(session, account=world.accounts[0], chat_wxid=wxid, is_group=False)
        await session.commit()


async def test_no_sop_message_goes_into_a_conversation_a_person_holds(sop_world: SopWorld) -> None:
    world = sop_world
    held, free = await world.add_friends(world.accounts[0], 2, tags=["A"])
    await _conversation_for(world, held.wxid)
    await _hold_as_person(world, held.wxid)
    sop = await world.create({"name": "活动", "targets": {"tags": ["A"]}, "steps": [world.step("活动来了")]})
    await world.control("start", sop)

    await world.dispatcher().drain()

    assert [message.to_wxid for message in world.received()] == [free.wxid]
    waiting = next(d for d in await world.deliveries(sop) if d.contact_id == held.id)
    assert waiting.status == "pending"
    assert waiting.due_at == world.clock.now + timedelta(seconds=world.sop_settings.human_wait_seconds)


async def test_a_step_that_skips_held_conversations_records_why(sop_world: SopWorld) -> None:
    world = sop_world
    [held] = await world.add_friends(world.accounts[0], 1, tags=["A"])
    await _conversation_for(world, held.wxid)
    await _hold_as_person(world, held.wxid)
    sop = await world.create(
        {"name": "活动", "targets": {"tags": ["A"]}, "steps": [world.step("活动", when_human="skip")]}
    )
    await world.control("start", sop)

    await world.dispatcher().drain()

    [delivery] = await world.deliveries(sop)
    assert (delivery.status, delivery.error) == ("skipped", "会话由人工接待中，已跳过")
    assert world.received() == []


async def test_a_step_configured_to_send_anyway_reaches_a_held_conversation(sop_world: SopWorld) -> None:
    world = sop_world
    [held] = await world.add_friends(world.accounts[0], 1, tags=["A"])
    await _conversation_for(world, held.wxid)
    await _hold_as_person(world, held.wxid)
    sop = await world.create(
        {"name": "通知", "targets": {"tags": ["A"]}, "steps": [world.step("停业通知", when_human="send")]}
    )
    await world.control("start", sop)

    await world.dispatcher().drain()

    assert [message.to_wxid for message in world.received()] == [held.wxid]


async def test_stop_on_reply_skips_customers_who_answered_after_the_start(sop_world: SopWorld) -> None:
    world = sop_world
    [replied] = await world.add_friends(world.accounts[0], 1, tags=["A"])
    sop = await world.create(
        {"name": "跟进", "targets": {"tags": ["A"]}, "steps": [world.step("跟进", stop_on_reply=True)]}
    )
    await world.control("start", sop)
    await _conversation_for(world, replied.wxid)
    async with world.db.sessionmaker() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.chat_wxid == replied.wxid)
            .values(last_customer_message_at=world.clock.now + timedelta(seconds=1))
        )
        await session.commit()

    await world.dispatcher().drain()

    [delivery] = await world.deliveries(sop)
    assert (delivery.status, delivery.error) == ("skipped", "客户已回复，后续步骤不再发送")


async def test_stop_on_tags_skips_contacts_carrying_them(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 1, tags=["A", "已成交"])
    sop = await world.create(
        {"name": "促单", "targets": {"tags": ["A"]}, "steps": [world.step("促单", stop_on_tags=["已成交"])]}
    )
    await world.control("start", sop)

    await world.dispatcher().drain()

    [delivery] = await world.deliveries(sop)
    assert (delivery.status, delivery.error) == ("skipped", "客户已有标签“已成交”，已跳过")


async def test_gewe_errors_are_retried_with_backoff_then_dead_lettered(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 1, tags=["A"])
    sop = await world.create({"name": "重试", "targets": {"tags": ["A"]}, "steps": [world.step("你好")]})
    await world.control("start", sop)
    await world.sim.control.post("/_sim/failures", json={"http500": 100})
    dispatcher = world.dispatcher()

    await dispatcher.drain()
    [first] = await world.deliveries(sop)
    world.clock.advance(seconds=10)
    await dispatcher.drain()
    world.clock.advance(seconds=20)
    await dispatcher.drain()

    [dead] = await world.deliveries(sop)
    assert (first.status, first.attempts, first.due_at) == ("pending", 1, world.clock.now - timedelta(seconds=20))
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert dead.error


async def test_a_dead_letter_retried_is_sent(sop_world: SopWorld) -> None:
    from backend.sop import service

    world = sop_world
    await world.add_friends(world.accounts[0], 1, tags=["A"])
    sop = await world.create({"name": "重试", "targets": {"tags": ["A"]}, "steps": [world.step("你好")]})
    await world.control("start", sop)
    async with world.db.sessionmaker() as session:
        await session.execute(update(SopDelivery).values(status="dead", attempts=3, error="GeWe 500"))
        await session.commit()

    async with world.db.sessionmaker() as session:
        retried = await service.retry_dead(
            session, user=world.manager, sop_id=sop.id, delivery_id=None, now=world.clock.now
        )
        await session.commit()
    await world.dispatcher().drain()

    assert retried == 1
    [delivery] = await world.deliveries(sop)
    assert (delivery.status, delivery.attempts) == ("sent", 0)


async def test_too_often_pauses_the_account_and_raises_a_system_alert(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 2, tags=["A"])
    sop = await world.create({"name": "频繁", "targets": {"tags": ["A"]}, "steps": [world.step("你好")]})
    await world.control("start", sop)
    await world.sim.control.post("/_sim/failures", json={"tooOften": 1})
    dispatcher = world.dispatcher()

    await dispatcher.drain()
    await dispatcher.drain()

    sends = [call for call in world.sim.state.calls if call.path.endswith("/message/postText")]
    assert len(sends) == 1  # the account rests after GeWe's "too often"; nothing else is tried
    assert world.received() == []
    assert {delivery.status for delivery in await world.deliveries(sop)} == {"pending"}
    async with world.db.sessionmaker() as session:
        alerts = list(await session.scalars(select(RealtimeEvent).where(RealtimeEvent.type == "system.alert")))
    assert [alert.data["kind"] for alert in alerts] == ["too_often"]


async def test_a_reached_daily_cap_rests_the_account_until_the_next_day(sop_world: SopWorld) -> None:
    world = sop_world
    world.pacer.default_policy = PacingPolicy(
        per_minute_cap=10_000, min_gap_per_chat=0.0, switch_jitter=(0.0, 0.0), daily_cap=2
    )
    await world.add_friends(world.accounts[0], 5, tags=["A"])
    sop = await world.create({"name": "日上限", "targets": {"tags": ["A"]}, "steps": [world.step("你好")]})
    await world.control("start", sop)
    dispatcher = world.dispatcher()

    await dispatcher.drain()
    await dispatcher.drain()

    deliveries = await world.deliveries(sop)
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert [d.status for d in deliveries].count("sent") == 2
    assert len(world.received()) == 2
    handed_back = [d for d in deliveries if d.status == "pending" and d.due_at >= tomorrow]
    untouched = [d for d in deliveries if d.status == "pending" and d.due_at <= world.clock.now]
    assert (len(handed_back), len(untouched)) == (1, 2)  # one far slot reserved, not one per delivery


async def test_image_link_and_file_steps_reach_gewe_as_their_kind(sop_world: SopWorld) -> None:
    world = sop_world
    await world.add_friends(world.accounts[0], 1, tags=["A"])
    now = {"kind": "at", "at": world.clock.now.isoformat()}
    steps = [
        {"content": {"kind": "image", "image_url": "https://cdn.example.com/poster.png"}, "timing": now},
        {"content": {"kind": "link", "title": "双11会场", "url": "https://example.com/1111"}, "timing": now},
        {
            "content": {"kind": "file", "file_url": "https://cdn.example.com/price.pdf", "file_name": "价目表.pdf"},
            "timing": now,
        },
    ]
    sop = await world.create({"name": "素材", "targets": {"tags": ["A"]}, "steps": steps})
    await world.control("start", sop)

    await world.dispatcher().drain()

    received = {message.kind: message.content for message in world.received()}
    assert received == {
        "image": "https://cdn.example.com/poster.png",
        "link": "https://example.com/1111",
        "file": "https://cdn.example.com/price.pdf",
    }
