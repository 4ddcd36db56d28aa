"""Retention: handled callbacks and console events past their keep time are pruned; pending work never is."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select, text, update

from backend.config import RetentionSettings, Settings
from backend.core.db import Database, utcnow
from backend.ingest.dispatcher import Processor
from backend.ingest.models import InboxEntry, InboxState
from backend.ingest.retention import RETENTION_LOCK, Retention
from backend.messages.models import Message
from backend.realtime.models import RealtimeEvent
from tests.backend.ingest.payloads import add_msg
from tests.backend.ingest.support import accept_only

APP_ID = "wx_retentionaccount0001"
ACCOUNT_WXID = "wxid_retentionaccount"


def _body(seq: int) -> bytes:
    payload = add_msg(
        APP_ID, from_wxid="wxid_cust0001", to_wxid=ACCOUNT_WXID, content=f"第{seq}条", new_msg_id=str(1000 + seq)
    )
    return json.dumps(payload).encode()


def _retention(db: Database, **overrides: float) -> Retention:
    return Retention(db.sessionmaker, RetentionSettings(**overrides), commit=lambda session: session.commit())


async def _age(db: Database, entry_ids: list[int], *, days: float, state: InboxState | None = None) -> None:
    values: dict[str, object] = {"accepted_at": utcnow() - timedelta(days=days)}
    if state is not None:
        values["state"] = state
    async with db.sessionmaker() as session:
        await session.execute(update(InboxEntry).where(InboxEntry.id.in_(entry_ids)).values(**values))
        await session.commit()


async def _inbox_states(db: Database) -> list[str]:
    async with db.sessionmaker() as session:
        return list(await session.scalars(select(InboxEntry.state).order_by(InboxEntry.id)))


async def _add_events(db: Database, organization_id, *, ages_in_days: list[float]) -> None:
    async with db.sessionmaker() as session:
        for seq, age in enumerate(ages_in_days, start=1):
            session.add(
                RealtimeEvent(
                    organization_id=organization_id,
                    seq=seq,
                    type="message.new",
                    rooms=[],
                    data={},
                    created_at=utcnow() - timedelta(days=age),
                )
            )
        await session.commit()


async def _event_seqs(db: Database) -> list[int]:
    async with db.sessionmaker() as session:
        return list(await session.scalars(select(RealtimeEvent.seq).order_by(RealtimeEvent.seq)))


async def test_handled_callbacks_past_the_keep_time_are_pruned_and_pending_ones_kept(
    settings: Settings, db: Database, account
) -> None:
    old_processed, old_failed, old_pending, recent = await accept_only(
        settings, db, account, [_body(i) for i in range(4)]
    )
    await _age(db, [old_processed], days=40, state=InboxState.processed)
    await _age(db, [recent], days=1, state=InboxState.processed)
    await _age(db, [old_failed], days=40, state=InboxState.failed)
    await _age(db, [old_pending], days=40)

    result = await _retention(db, inbox_days=30).prune()

    assert (result.deleted["ingest_inbox"], await _inbox_states(db)) == (2, ["accepted", "processed"])


async def test_console_events_past_the_keep_time_are_pruned(db: Database, account) -> None:
    await _add_events(db, account.organization_id, ages_in_days=[9, 8, 6, 0])

    await _retention(db, events_days=7).prune()

    assert await _event_seqs(db) == [3, 4]


async def test_pruning_deletes_batch_after_batch_until_nothing_old_is_left(db: Database, account) -> None:
    await _add_events(db, account.organization_id, ages_in_days=[10] * 5 + [1])

    result = await _retention(db, events_days=7, batch=2).prune()

    assert (result.deleted["realtime_events"], await _event_seqs(db)) == (5, [6])


async def test_zero_days_keeps_records_forever(settings: Settings, db: Database, account) -> None:
    entry_ids = await accept_only(settings, db, account, [_body(1)])
    await _age(db, entry_ids, days=4000, state=InboxState.processed)
    await _add_events(db, account.organization_id, ages_in_days=[4000])

    result = await _retention(db, inbox_days=0, events_days=0).prune()

    assert (result.deleted, len(await _inbox_states(db)), await _event_seqs(db)) == ({}, 1, [1])


async def test_a_process_skips_pruning_while_another_one_prunes(db: Database, account) -> None:
    await _add_events(db, account.organization_id, ages_in_days=[10])
    async with db.sessionmaker() as other_process:
        await other_process.execute(text("select pg_advisory_xact_lock(:key)"), {"key": RETENTION_LOCK})

        result = await _retention(db, events_days=7).prune()

    assert (result.skipped, await _event_seqs(db)) == (True, [1])


async def test_a_callback_delivered_again_after_its_inbox_row_was_pruned_is_stored_once(
    settings: Settings, db: Database, account
) -> None:
    [first] = await accept_only(settings, db, account, [_body(7)])
    await Processor(db.sessionmaker).process(first)
    await _age(db, [first], days=40)
    await _retention(db, inbox_days=30).prune()

    [again] = await accept_only(settings, db, account, [_body(7)])
    await Processor(db.sessionmaker).process(again)

    async with db.sessionmaker() as session:
        messages = await session.scalar(select(func.count()).select_from(Message))
    assert (await _inbox_states(db), messages) == (["processed"], 1)
