"""Message search: pg_trgm substring search (Chinese works: trigrams of characters) with filters."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.contacts.models import Contact
from backend.messages.models import Conversation, Message


def escape_like(text: str) -> str:
    """The text with LIKE wildcards escaped (searching "100%" means the characters, not a pattern)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_messages(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    query: str,
    account_id: uuid.UUID | None = None,
    contact_wxid: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[tuple[Message, str]]:
    """The organisation's messages containing `query` (case-insensitive), newest first, with conversation titles."""
    statement = (
        select(Message, Conversation.chat_wxid, Contact.remark, Contact.nickname)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Contact, (Contact.account_id == Conversation.account_id) & (Contact.wxid == Conversation.chat_wxid))
        .where(
            Message.organization_id == organization_id,
            Message.text.ilike(f"%{escape_like(query)}%", escape="\\"),
        )
    )
    if account_id is not None:
        statement = statement.where(Message.account_id == account_id)
    if contact_wxid:
        statement = statement.where(Conversation.chat_wxid == contact_wxid)
    if since is not None:
        statement = statement.where(Message.created_at >= since)
    if until is not None:
        statement = statement.where(Message.created_at < until)
    rows = (await session.execute(statement.order_by(Message.id.desc()).limit(limit))).all()
    return [(message, remark or nickname or chat_wxid) for message, chat_wxid, remark, nickname in rows]
