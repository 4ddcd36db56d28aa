"""Storing conversations and messages, and sending text through the pacer and GeWe."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.gewe import GeweGateway, gewe_message
from backend.accounts.models import Account
from backend.core.db import utcnow
from backend.messages.models import Conversation, Message
from backend.messages.schemas import MessageOut
from backend.realtime.service import org_room, publish
from bots.gewe import GeweError, GeweTooOftenError
from bots.pacer import InProcessPacer, PacingPolicy, RedisPacer

logger = logging.getLogger(__name__)

SentBy = str  # 'customer' | 'ai' | 'staff' | 'phone' | 'sop'
ChannelPacer = InProcessPacer | RedisPacer


def message_rooms(message: Message) -> list[str]:
    """Socket.IO rooms a message event goes to."""
    return [
        org_room(message.organization_id),
        f"account:{message.account_id}",
        f"conversation:{message.conversation_id}",
    ]


def message_data(message: Message) -> dict[str, Any]:
    """The JSON-ready body of a message event."""
    return MessageOut.model_validate(message).model_dump(mode="json")


async def upsert_conversation(
    session: AsyncSession, *, account: Account, chat_wxid: str, is_group: bool
) -> tuple[uuid.UUID, bool]:
    """The id of the account's conversation with a chat (created when missing) and whether it was created."""
    statement: Any = (
        insert(Conversation)
        .values(
            id=uuid.uuid4(),
            organization_id=account.organization_id,
            account_id=account.id,
            chat_wxid=chat_wxid,
            is_group=is_group,
        )
        .on_conflict_do_update(
            index_elements=[Conversation.account_id, Conversation.chat_wxid],
            set_={"is_group": is_group},
        )
        # xmax is 0 only for a row this statement inserted (not for one it updated on conflict).
        .returning(Conversation.id, literal_column("xmax = 0"))
    )
    conversation_id, created = (await session.execute(statement)).one()
    return conversation_id, bool(created)


async def touch_conversation(
    session: AsyncSession, *, conversation_id: uuid.UUID, at: datetime, unread_delta: int
) -> None:
    """Move a conversation's last message time forward and adjust its unread count."""
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(
            last_message_at=at,
            unread_count=Conversation.unread_count + unread_delta,
        )
    )


async def insert_message_once(session: AsyncSession, values: dict[str, Any]) -> Message | None:
    """Insert a message unless `(account_id, new_msg_id)` exists; None when it was already stored."""
    statement = (
        insert(Message)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Message.account_id, Message.new_msg_id])
        .returning(Message)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def policy_with_overrides(default: PacingPolicy, overrides: dict[str, Any]) -> PacingPolicy | None:
    """The pacer policy for an account's stored overrides, or None when it has none."""
    known = {field.name for field in dataclasses.fields(PacingPolicy)}
    chosen = {key: value for key, value in overrides.items() if key in known and value is not None}
    return dataclasses.replace(default, **chosen) if chosen else None


async def send_text(
    session: AsyncSession,
    *,
    account: Account,
    to_wxid: str,
    text: str,
    sent_by: SentBy,
    gateway: GeweGateway,
    pacer: ChannelPacer,
    sent_by_user_id: uuid.UUID | None = None,
) -> Message:
    """Send text as the account through the shared pacer; the message ends `sent` or `failed` with GeWe's reason."""
    conversation_id, _ = await upsert_conversation(
        session, account=account, chat_wxid=to_wxid, is_group=to_wxid.endswith("@chatroom")
    )
    message = Message(
        organization_id=account.organization_id,
        account_id=account.id,
        conversation_id=conversation_id,
        kind="text",
        direction="out",
        is_self_sent=True,
        sent_by=sent_by,
        sent_by_user_id=sent_by_user_id,
        sender_wxid=account.wxid or "",
        text=text,
        status="sending",
    )
    session.add(message)
    await session.flush()
    if not account.app_id:
        message.status, message.error = "failed", "this account has never logged in (no GeWe appId)"
    else:
        pacer.set_policy(str(account.id), policy_with_overrides(pacer.default_policy, account.pacing))
        await pacer.acquire(str(account.id), to_wxid)
        try:
            result = await gateway.client(account).post_text(account.app_id, to_wxid, text)
        except GeweError as exc:
            if isinstance(exc, GeweTooOftenError):
                pause = await pacer.report_too_often(str(account.id))
                logger.warning("account %s sends too often; pacer paused it for %.0fs", account.id, pause)
            message.status, message.error = "failed", gewe_message(exc)
        else:
            message.status, message.sent_at = "sent", utcnow()
            message.new_msg_id, message.msg_id = result.new_msg_id or None, result.msg_id or None
    await session.flush()
    await touch_conversation(session, conversation_id=conversation_id, at=utcnow(), unread_delta=0)
    await session.refresh(message)
    await publish(
        session,
        organization_id=account.organization_id,
        type="message.status",
        data=message_data(message),
        rooms=message_rooms(message),
    )
    return message


async def mark_echo(session: AsyncSession, *, account_id: uuid.UUID, new_msg_id: str) -> bool:
    """Mark our own sent message whose GeWe echo arrived; False when no send of ours has that id."""
    found = await session.scalar(
        update(Message)
        .where(
            Message.account_id == account_id,
            Message.new_msg_id == new_msg_id,
            Message.direction == "out",
            Message.sent_by != "phone",
        )
        .values(echoed_at=utcnow())
        .returning(Message.id)
    )
    return found is not None


def epoch_to_datetime(seconds: int | None) -> datetime:
    """A GeWe CreateTime (seconds) as an aware datetime; now when missing."""
    return datetime.fromtimestamp(seconds, UTC) if seconds else utcnow()


async def list_messages(session: AsyncSession, *, account_id: uuid.UUID, limit: int = 100) -> list[Message]:
    """The account's latest messages, newest first."""
    rows = await session.scalars(
        select(Message).where(Message.account_id == account_id).order_by(Message.id.desc()).limit(limit)
    )
    return list(rows)
