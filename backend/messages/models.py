"""Conversations (one per account and chat) and their messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt, UUIDPrimaryKey


class Conversation(UUIDPrimaryKey, CreatedAt, Base):
    """The chat between an account and one contact or group."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("account_id", "chat_wxid"),
        Index("ix_conversations_org_last_message", "organization_id", sql_text("last_message_at DESC")),
        CheckConstraint("mode in ('ai','pending_human','human','closed')", name="mode_known"),
        CheckConstraint("holder in ('ai','staff','sop','none')", name="holder_known"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    chat_wxid: Mapped[str] = mapped_column(String(128))
    is_group: Mapped[bool] = mapped_column(default=False, server_default=sql_text("false"))
    last_message_at: Mapped[datetime | None] = mapped_column(default=None)
    unread_count: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))
    # ai | pending_human | human | closed: transitions belong to the conversations feature.
    mode: Mapped[str] = mapped_column(String(16), default="ai", server_default="ai")
    # Who may reply now (ai | staff | sop | none); every change bumps lease_version, which a send re-checks.
    holder: Mapped[str] = mapped_column(String(8), default="ai", server_default="ai")
    holder_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    lease_version: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))
    mode_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    mode_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    handoff_summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    handoff_deadline: Mapped[datetime | None] = mapped_column(default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)
    last_customer_message_at: Mapped[datetime | None] = mapped_column(default=None)
    last_human_activity_at: Mapped[datetime | None] = mapped_column(default=None)
    last_message_preview: Mapped[str] = mapped_column(String(120), default="", server_default="")


class Message(CreatedAt, Base):
    """One message in or out; `(account_id, new_msg_id)` is unique so re-deliveries never duplicate."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("account_id", "new_msg_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_text_trgm", "text", postgresql_using="gin", postgresql_ops={"text": "gin_trgm_ops"}),
        Index("ix_messages_org_id", "organization_id", "id"),
        CheckConstraint("direction in ('in','out')", name="direction_known"),
        CheckConstraint("sent_by in ('customer','ai','staff','phone','sop')", name="sent_by_known"),
        CheckConstraint("status in ('received','processed','sending','sent','failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    new_msg_id: Mapped[str | None] = mapped_column(Text, default=None)
    msg_id: Mapped[str | None] = mapped_column(Text, default=None)
    kind: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(3))
    is_self_sent: Mapped[bool] = mapped_column(default=False, server_default=sql_text("false"))
    sent_by: Mapped[str] = mapped_column(String(16))
    sent_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    sender_wxid: Mapped[str] = mapped_column(String(128), default="", server_default="")
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=sql_text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when GeWe's callback echo of one of our own sends arrived.
    echoed_at: Mapped[datetime | None] = mapped_column(default=None)
