"""Processing inbox rows: a batch applies every chat's rows in order, set-based, and skips busy conversations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import func, select, text

from backend.accounts import service as accounts
from backend.accounts.models import Account
from backend.config import Settings
from backend.core.db import Database
from backend.ingest import service
from backend.ingest.models import InboxEntry
from backend.messages.models import Conversation, Message
from backend.realtime.models import RealtimeEvent
from tests.backend.ingest.payloads import add_msg
from tests.backend.ingest.support import accept_only
from tests.fixtures.db import generic_plan

APP_ID = "wx_batchaccount00000001"
ACCOUNT_WXID = "wxid_batchaccount01"


def _from_customer(customer: str, text: str) -> bytes:
    return json.dumps(add_msg(APP_ID, from_wxid=customer, to_wxid=ACCOUNT_WXID, content=text)).encode()


def _typed_on_phone(customer: str, text: str) -> bytes:
    return json.dumps(add_msg(APP_ID, from_wxid=ACCOUNT_WXID, to_wxid=customer, content=text)).encode()


async def _process_together(db: Database, entry_ids: list[int]) -> service.BatchResult:
    async with db.sessionmaker() as session:
        batch = await service.process_entries(session, entry_ids=entry_ids)
        await session.commit()
    return batch


async def _conversation(db: Database, chat_wxid: str) -> Conversation:
    async with db.sessionmaker() as session:
        found = await session.scalar(select(Conversation).where(Conversation.chat_wxid == chat_wxid))
        assert found is not None
        return found


async def _texts(db: Database, chat_wxid: str) -> list[str]:
    conversation = await _conversation(db, chat_wxid)
    async with db.sessionmaker() as session:
        query = select(Message.text).where(Message.conversation_id == conversation.id).order_by(Message.id)
        return list(await session.scalars(query))


async def _state(db: Database, entry_id: int) -> str | None:
    async with db.sessionmaker() as session:
        return await session.scalar(select(InboxEntry.state).where(InboxEntry.id == entry_id))


@asynccontextmanager
async def _held(db: Database, chat_wxid: str) -> AsyncIterator[None]:
    """Hold a conversation's row lock, as a send waiting for GeWe does."""
    async with db.sessionmaker() as session:
        await session.scalar(select(Conversation).where(Conversation.chat_wxid == chat_wxid).with_for_update())
        yield
        await session.rollback()


async def test_a_batch_stores_each_chats_messages_in_order_with_unread_counts_and_previews(
    settings: Settings, db: Database, account: Account
) -> None:
    customers = [f"wxid_batchcust{n}" for n in range(3)]
    bodies = [_from_customer(customers[seq % 3], f"第{seq}条") for seq in range(15)]
    entry_ids = await accept_only(settings, db, account, bodies)

    batch = await _process_together(db, entry_ids)

    assert [result.entry_id for result in batch.applied] == entry_ids and batch.set_apart == []
    for n, customer in enumerate(customers):
        assert await _texts(db, customer) == [f"第{seq}条" for seq in range(n, 15, 3)]
        conversation = await _conversation(db, customer)
        assert (conversation.unread_count, conversation.last_message_preview) == (5, f"第{12 + n}条")
    assert {await _state(db, entry_id) for entry_id in entry_ids} == {"processed"}
    async with db.sessionmaker() as session:
        events = await session.scalar(select(func.count()).where(RealtimeEvent.type == "message.new"))
    assert events == 15


async def test_a_batch_owes_the_ai_reply_of_every_customer_message(
    settings: Settings, db: Database, account: Account
) -> None:
    entry_ids = await accept_only(settings, db, account, [_from_customer("wxid_asker", "卫衣多少钱？")])

    [result] = (await _process_together(db, entry_ids)).applied

    assert result.reply_job is not None and result.reply_job.kind == "answer"


async def test_a_batch_hands_a_tagged_customer_to_people(settings: Settings, db: Database, account: Account) -> None:
    async with db.sessionmaker() as session:
        await accounts.upsert_contact(session, account=account, wxid="wxid_bigbuyer", tags=["VIP"])
        await session.commit()
    entry_ids = await accept_only(settings, db, account, [_from_customer("wxid_bigbuyer", "在吗")])

    await _process_together(db, entry_ids)

    assert (await _conversation(db, "wxid_bigbuyer")).mode == "pending_human"


async def test_a_phone_typed_message_in_a_batch_hands_its_chat_to_people_after_the_customers_message(
    settings: Settings, db: Database, account: Account
) -> None:
    bodies = [_from_customer("wxid_mixed", "有优惠吗"), _typed_on_phone("wxid_mixed", "我来回复您")]
    entry_ids = await accept_only(settings, db, account, bodies)

    await _process_together(db, entry_ids)

    assert await _texts(db, "wxid_mixed") == ["有优惠吗", "我来回复您"]
    assert (await _conversation(db, "wxid_mixed")).mode == "human"


async def test_a_batch_leaves_the_messages_of_a_busy_conversation_pending(
    settings: Settings, db: Database, account: Account
) -> None:
    [first] = await accept_only(settings, db, account, [_from_customer("wxid_busy", "第一条")])
    await _process_together(db, [first])
    busy, free = await accept_only(
        settings, db, account, [_from_customer("wxid_busy", "第二条"), _from_customer("wxid_free", "你好")]
    )

    async with _held(db, "wxid_busy"):
        batch = await _process_together(db, [busy, free])

    assert [result.entry_id for result in batch.applied] == [free] and batch.set_apart == [busy]
    assert (await _state(db, busy), await _state(db, free)) == ("accepted", "processed")


async def test_a_row_an_earlier_batch_applied_with_its_chat_is_neither_applied_again_nor_set_apart(
    settings: Settings, db: Database, account: Account
) -> None:
    earlier, later = await accept_only(
        settings, db, account, [_from_customer("wxid_ahead", "第一条"), _from_customer("wxid_ahead", "第二条")]
    )
    await _process_together(db, [later])  # applies the chat's rows up to `later`, `earlier` included

    batch = await _process_together(db, [earlier])

    assert (batch.applied, batch.set_apart) == ([], [])
    assert await _texts(db, "wxid_ahead") == ["第一条", "第二条"]


async def test_a_busy_conversations_message_is_applied_one_by_one_once_it_is_free(
    settings: Settings, db: Database, account: Account
) -> None:
    [first] = await accept_only(settings, db, account, [_from_customer("wxid_later", "第一条")])
    await _process_together(db, [first])
    [second] = await accept_only(settings, db, account, [_from_customer("wxid_later", "第二条")])
    async with _held(db, "wxid_later"):
        await _process_together(db, [second])

    async with db.sessionmaker() as session:
        result = await service.process_entry(session, entry_id=second)
        await session.commit()

    assert result.done and await _texts(db, "wxid_later") == ["第一条", "第二条"]


async def test_a_batch_looks_for_its_chats_rows_among_pending_rows_only_in_a_generic_plan(
    db: Database, account: Account
) -> None:
    async with db.sessionmaker() as session:
        await session.execute(
            text(
                "insert into ingest_inbox (organization_id, account_id, dedupe_key, kind, lane_key, raw, state) "
                "select :organization, :account, 'done' || n, 'message', 'wxid_c' || n % 100, '{}', 'processed' "
                "from generate_series(1, 20000) n"
            ),
            {"organization": account.organization_id, "account": account.id},
        )
        await session.execute(text("analyze ingest_inbox"))

        plan = await generic_plan(session, service.PENDING_OF_CHATS, ids=[1], up_to=1)

    # Either partial index of pending rows; never an index of every row the account ever received.
    assert "ix_ingest_inbox_chat_pending" in plan or "ix_ingest_inbox_pending" in plan, plan
