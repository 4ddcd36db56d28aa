"""Dispatch and recovery: lanes keep a chat in order, the sweeper and stream re-claims lose nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import func, select

from backend.config import Settings
from backend.core.db import Database
from backend.ingest.dispatcher import (
    IntakeGauge,
    LocalDispatcher,
    Processor,
    RedisStreamDispatcher,
    Sweeper,
    WorkItem,
    lane_of,
)
from backend.ingest.models import InboxEntry
from backend.ingest.runtime import ChannelRuntime
from backend.messages.models import Conversation, Message
from backend.realtime.models import RealtimeEvent
from tests.backend.accounts.support import wait_until
from tests.backend.ingest.payloads import add_msg
from tests.backend.ingest.support import accept_only

APP_ID = "wx_burstaccount00000001"
ACCOUNT_WXID = "wxid_burstaccount01"
WORKER = Path(__file__).with_name("ingest_worker.py")


def _body(customer: int, seq: int) -> bytes:
    payload = add_msg(APP_ID, from_wxid=f"wxid_cust{customer:04d}", to_wxid=ACCOUNT_WXID, content=f"第{seq}条")
    return json.dumps(payload).encode()


async def _scalar(db: Database, statement: Any) -> Any:
    async with db.sessionmaker() as session:
        return await session.scalar(statement)


async def _pending(db: Database) -> int:
    return int(await _scalar(db, select(func.count()).where(InboxEntry.state == "accepted")))


def test_a_chat_always_maps_to_the_same_lane() -> None:
    assert {lane_of("wxid_cust0001", 8) for _ in range(5)} == {lane_of("wxid_cust0001", 8)}


async def test_one_chats_messages_are_processed_in_arrival_order(settings: Settings, db: Database, account) -> None:
    runtime = ChannelRuntime(settings, db)
    await runtime.start()
    try:
        for seq in range(60):
            await runtime.accept(account.callback_secret, _body(seq % 3, seq))
        await wait_until(lambda: _pending_is_zero(db))
    finally:
        await runtime.stop()
    async with db.sessionmaker() as session:
        rows = (await session.execute(select(Message.sender_wxid, Message.text).order_by(Message.id))).all()
    for customer in range(3):
        texts = [text for sender, text in rows if sender == f"wxid_cust{customer:04d}"]
        assert texts == [f"第{seq}条" for seq in range(customer, 60, 3)]


async def _pending_is_zero(db: Database) -> bool:
    return await _pending(db) == 0


async def _texts_in_stored_order(db: Database, sender_wxid: str) -> list[str | None]:
    async with db.sessionmaker() as session:
        query = select(Message.text).where(Message.sender_wxid == sender_wxid).order_by(Message.id)
        return list((await session.scalars(query)).all())


async def test_workers_given_one_chats_rows_newest_first_still_apply_them_in_order(
    settings: Settings, db: Database, account
) -> None:
    entry_ids = await accept_only(settings, db, account, [_body(7, seq) for seq in range(30)])
    processors = [Processor(db.sessionmaker) for _ in range(3)]
    newest_first = list(reversed(entry_ids))
    await asyncio.gather(*(processors[i % 3].process(entry_id) for i, entry_id in enumerate(newest_first)))
    assert await _texts_in_stored_order(db, "wxid_cust0007") == [f"第{seq}条" for seq in range(30)]
    await _assert_each_processed_once(db, 30)


@pytest.mark.redis
async def test_two_consumers_sharing_a_lane_keep_each_chat_in_order_when_entries_come_out_of_order(
    settings: Settings, db: Database, account, redis_url: str, redis_client
) -> None:
    prefix = "salesbot:test-ingest-order"
    bodies = [_body(seq % 2, seq) for seq in range(80)]
    entry_ids = await accept_only(settings, db, account, bodies)
    # One Redis client each, as two worker processes would have.
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    consumers = [
        RedisStreamDispatcher(client, Processor(db.sessionmaker), lanes=1, prefix=prefix, batch=1) for client in clients
    ]
    await consumers[0].ensure_groups()
    for entry_id in reversed(entry_ids):  # as re-claims and sweeps can deliver them, one stream entry each
        await consumers[0].submit(WorkItem(entry_id, ""))
        await consumers[0].flush()
    try:
        await _consume_until_processed(db, *consumers)
    finally:
        for client in clients:
            await client.aclose()
        await redis_client.delete(consumers[0].stream(0))
    for customer in range(2):
        expected = [f"第{seq}条" for seq in range(customer, 80, 2)]
        assert await _texts_in_stored_order(db, f"wxid_cust{customer:04d}") == expected
    await _assert_each_processed_once(db, 80)


@pytest.mark.redis
async def test_rows_queued_together_share_one_stream_entry_and_are_all_processed(
    settings: Settings, db: Database, account, redis_client
) -> None:
    prefix = "salesbot:test-ingest-shared-entry"
    entry_ids = await accept_only(settings, db, account, [_body(seq % 7, seq) for seq in range(30)])
    dispatcher = RedisStreamDispatcher(redis_client, Processor(db.sessionmaker), lanes=4, prefix=prefix)
    await dispatcher.ensure_groups()
    for entry_id in entry_ids:
        await dispatcher.submit(WorkItem(entry_id, ""))
    await dispatcher.flush()
    lengths = [await redis_client.xlen(dispatcher.stream(lane)) for lane in range(4)]
    await _consume_until_processed(db, dispatcher)
    assert sorted(lengths) == [0, 0, 0, 1]
    await _assert_each_processed_once(db, 30)


async def test_a_failed_stream_write_is_logged_and_leaves_the_rows_to_the_sweeper(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = aioredis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    dispatcher = RedisStreamDispatcher(unreachable, None)
    try:
        await dispatcher.submit(WorkItem(1, "wxid_cust0001"))  # returns at once: the row is stored already
        await dispatcher.flush()
    finally:
        await unreachable.aclose()
    assert "writing 1 inbox rows to the ingest stream failed" in caplog.text


@pytest.mark.redis
async def test_a_stream_entry_naming_one_row_as_written_before_batching_is_processed(
    settings: Settings, db: Database, account, redis_client
) -> None:
    prefix = "salesbot:test-ingest-old-entry"
    [entry_id] = await accept_only(settings, db, account, [_body(0, 0)])
    dispatcher = RedisStreamDispatcher(redis_client, Processor(db.sessionmaker), lanes=2, prefix=prefix)
    await dispatcher.ensure_groups()
    await redis_client.xadd(dispatcher.stream(1), {"id": str(entry_id)})
    await _consume_until_processed(db, dispatcher)
    await _assert_each_processed_once(db, 1)


async def _started_lane_with_a_row(
    settings: Settings, db: Database, account, intake: IntakeGauge
) -> tuple[LocalDispatcher, int]:
    """A started in-process lane watching `intake`, and one stored (not yet submitted) inbox row."""
    [entry_id] = await accept_only(settings, db, account, [_body(1, 1)])
    dispatcher = LocalDispatcher(Processor(db.sessionmaker), intake=intake)
    await dispatcher.start()
    return dispatcher, entry_id


async def test_a_lane_waits_while_its_process_is_busy_accepting_callbacks(
    settings: Settings, db: Database, account
) -> None:
    intake = IntakeGauge(busy_at=1, max_wait=60)
    dispatcher, entry_id = await _started_lane_with_a_row(settings, db, account, intake)
    try:
        with intake.accepting():
            await dispatcher.submit(WorkItem(entry_id, "wxid_cust0001"))
            await asyncio.sleep(0.3)
            pending_while_busy = await _pending(db)
        await dispatcher.join()
    finally:
        await dispatcher.stop()
    assert (pending_while_busy, await _pending(db)) == (1, 0)


async def test_a_lane_waits_for_a_quiet_spell_after_a_busy_intake_even_with_none_in_flight(
    settings: Settings, db: Database, account
) -> None:
    intake = IntakeGauge(busy_at=1, quiet=0.5, max_wait=60)
    dispatcher, entry_id = await _started_lane_with_a_row(settings, db, account, intake)
    try:
        with intake.accepting():
            pass  # a burst (here of one callback) was just answered: between two waves, none is in flight
        await dispatcher.submit(WorkItem(entry_id, "wxid_cust0001"))
        await asyncio.sleep(0.2)
        pending_within_the_calm = await _pending(db)
        await dispatcher.join()
    finally:
        await dispatcher.stop()
    assert (pending_within_the_calm, await _pending(db)) == (1, 0)


async def test_a_lane_of_an_idle_process_processes_at_once(settings: Settings, db: Database, account) -> None:
    intake = IntakeGauge(max_wait=60)
    dispatcher, entry_id = await _started_lane_with_a_row(settings, db, account, intake)
    try:
        await dispatcher.submit(WorkItem(entry_id, "wxid_cust0001"))
        async with asyncio.timeout(5):
            await dispatcher.join()
    finally:
        await dispatcher.stop()
    assert await _pending(db) == 0


async def test_a_lane_lets_a_busy_intake_go_first_only_for_its_longest_wait(
    settings: Settings, db: Database, account
) -> None:
    intake = IntakeGauge(busy_at=1, max_wait=0.2)
    dispatcher, entry_id = await _started_lane_with_a_row(settings, db, account, intake)
    try:
        with intake.accepting():
            await dispatcher.submit(WorkItem(entry_id, "wxid_cust0001"))
            await dispatcher.join()
            pending_while_busy = await _pending(db)
    finally:
        await dispatcher.stop()
    assert pending_while_busy == 0


async def test_a_lane_stopped_just_as_its_process_stops_accepting_still_stops(
    settings: Settings, db: Database, account
) -> None:
    intake = IntakeGauge(busy_at=1, max_wait=60)
    dispatcher, entry_id = await _started_lane_with_a_row(settings, db, account, intake)
    with intake.accepting():
        await dispatcher.submit(WorkItem(entry_id, "wxid_cust0001"))
        await asyncio.sleep(0.1)
    # The lane is waiting out the calm after the burst when it is cancelled.
    stopping = asyncio.create_task(dispatcher.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)
    assert stopping in done


@pytest.mark.redis
async def test_a_stream_consumer_waits_while_its_process_is_busy_accepting_callbacks(
    settings: Settings, db: Database, account, redis_client
) -> None:
    [entry_id] = await accept_only(settings, db, account, [_body(1, 1)])
    intake = IntakeGauge(busy_at=1, max_wait=60)
    dispatcher = RedisStreamDispatcher(
        redis_client, Processor(db.sessionmaker), lanes=1, prefix="salesbot:test-intake", block_ms=50, intake=intake
    )
    await dispatcher.ensure_groups()
    await dispatcher.start()
    try:
        with intake.accepting():
            await dispatcher.submit(WorkItem(entry_id, ""))
            await dispatcher.flush()
            await asyncio.sleep(0.5)
            pending_while_busy = await _pending(db)
        await wait_until(lambda: _pending_is_zero(db))
    finally:
        await dispatcher.stop()
    assert pending_while_busy == 1


async def test_sweeper_redispatches_rows_whose_queue_was_lost(settings: Settings, db: Database, account) -> None:
    lost = ChannelRuntime(settings, db)  # never started: its in-process queue dies with it
    for seq in range(20):
        await lost.accept(account.callback_secret, _body(seq, seq))
    processor = Processor(db.sessionmaker)
    dispatcher = LocalDispatcher(processor)
    await dispatcher.start()
    try:
        swept = await Sweeper(db.sessionmaker, dispatcher, stale_after=0).sweep()
        await dispatcher.join()
    finally:
        await dispatcher.stop()
        await lost.stop()
    assert (swept, await _pending(db)) == (20, 0)


async def test_cancelled_worker_loses_nothing_and_processes_nothing_twice(
    settings: Settings, db: Database, account
) -> None:
    first = ChannelRuntime(settings, db)
    await first.start()
    for seq in range(400):
        await first.accept(account.callback_secret, _body(seq % 40, seq))
    await wait_until(lambda: _processed_at_least(db, 100), limit=60)
    await first.stop()  # cancels the lanes mid-way
    await _consume_until_processed(db, ChannelRuntime(settings, db, sweep_stale_after=0, sweep_interval=0.2), limit=120)
    await _assert_each_processed_once(db, 400)


async def _consume_until_processed(db: Database, *consumers: Any, limit: float = 60) -> None:
    """Start the consumers (dispatchers or runtimes), wait until no inbox row is pending, stop them."""
    for consumer in consumers:
        await consumer.start()
    try:
        await wait_until(lambda: _pending_is_zero(db), limit=limit)
    finally:
        for consumer in consumers:
            await consumer.stop()


async def _processed_at_least(db: Database, count: int) -> bool:
    return int(await _scalar(db, select(func.count()).where(InboxEntry.state == "processed"))) >= count


async def _assert_each_processed_once(db: Database, count: int) -> None:
    async with db.sessionmaker() as session:
        attempts = (
            await session.execute(select(InboxEntry.attempts, func.count()).group_by(InboxEntry.attempts))
        ).all()
        messages = await session.scalar(select(func.count(func.distinct(Message.new_msg_id))))
        events = await session.scalar(select(func.count()).where(RealtimeEvent.type == "message.new"))
    assert dict(attempts) == {1: count}
    assert (messages, events) == (count, count)


async def _start_worker(database_url: str, redis_url: str, prefix: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        database_url,
        redis_url,
        prefix,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(WORKER.parents[3]),
        env={"PYTHONPATH": str(WORKER.parents[3]), "PATH": "/usr/bin:/bin"},
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        assert (await process.stdout.readline()).strip() == b"ready"
    return process


@pytest.mark.redis
async def test_burst_with_worker_killed_halfway_is_fully_processed_after_restart(
    settings: Settings, db: Database, account, database_url: str, redis_url: str, redis_client
) -> None:
    prefix = "salesbot:test-ingest"
    redis = aioredis.Redis.from_url(redis_url)
    intake = ChannelRuntime(settings, db, redis=redis, consume=False)
    assert isinstance(intake.dispatcher, RedisStreamDispatcher)
    intake.dispatcher.prefix = prefix
    await intake.dispatcher.ensure_groups()
    worker = await _start_worker(database_url, redis_url, prefix)

    async def burst() -> None:
        for seq in range(5000):
            await intake.accept(account.callback_secret, _body(seq % 200, seq))

    try:
        # Killed while the burst still arrives: a worker keeping pace would otherwise finish it first.
        accepting = asyncio.create_task(burst())
        await wait_until(lambda: _processed_at_least(db, 2500), limit=120)
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        await accepting
        killed_at = int(await _scalar(db, select(func.count()).where(InboxEntry.state == "processed")))
        worker = await _start_worker(database_url, redis_url, prefix)
        await wait_until(lambda: _pending_is_zero(db), limit=180)
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
        await intake.stop()
        await redis.aclose()
    assert killed_at < 5000
    await _assert_each_processed_once(db, 5000)


async def test_a_batch_sets_a_busy_chats_row_apart_and_processes_it_once_the_conversation_is_free(
    settings: Settings, db: Database, account
) -> None:
    processor = Processor(db.sessionmaker)
    await processor.process(*await accept_only(settings, db, account, [_body(1, 0)]))
    busy_and_free = await accept_only(settings, db, account, [_body(1, 1), _body(2, 2)])
    async with db.sessionmaker() as holder:
        # A send to customer 1 waiting for GeWe holds the conversation row.
        await holder.scalar(select(Conversation).where(Conversation.chat_wxid == "wxid_cust0001").with_for_update())
        await processor.process_batch(busy_and_free)
        assert await _texts_in_stored_order(db, "wxid_cust0002") == ["第2条"]
        await holder.rollback()
    await processor.settle()
    assert await _texts_in_stored_order(db, "wxid_cust0001") == ["第0条", "第1条"]
    await _assert_each_processed_once(db, 3)


async def test_a_failing_batch_is_processed_one_by_one_and_the_failure_lands_on_its_own_row(
    settings: Settings, db: Database, account
) -> None:
    # Accepted before the endpoint refused such ids: storing its message fails (the column holds 128 characters).
    too_long = add_msg(APP_ID, from_wxid="wxid_" + "x" * 200, to_wxid=ACCOUNT_WXID, content="坏的")
    async with db.sessionmaker() as session:
        entry = InboxEntry(
            organization_id=account.organization_id,
            account_id=account.id,
            dedupe_key="too-long",
            kind="text",
            lane_key="wxid_xxx",
            raw=json.dumps(too_long),
            state="accepted",
        )
        session.add(entry)
        await session.commit()
    bad, (good,) = entry.id, await accept_only(settings, db, account, [_body(3, 0)])

    await Processor(db.sessionmaker).process_batch([bad, good])

    assert await _texts_in_stored_order(db, "wxid_cust0003") == ["第0条"]
    failed = await _scalar(db, select(InboxEntry).where(InboxEntry.id == bad))
    assert (failed.state, failed.attempts, "value too long" in (failed.error or "")) == ("accepted", 1, True)
