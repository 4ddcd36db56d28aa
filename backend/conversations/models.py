"""Staff notes on conversations and the reply/handoff policy of an organisation or one account."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt, UUIDPrimaryKey, utcnow


class ConversationNote(UUIDPrimaryKey, CreatedAt, Base):
    """A note a staff member left on a conversation (never sent to the customer)."""

    __tablename__ = "conversation_notes"
    __table_args__ = (Index("ix_conversation_notes_conversation_created", "conversation_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)


class ConversationPolicy(UUIDPrimaryKey, Base):
    """Handoff and reply settings: one row per organisation (account_id NULL) plus optional account overrides."""

    __tablename__ = "conversation_policies"
    __table_args__ = (
        Index(
            "uq_conversation_policies_org_account",
            "organization_id",
            "account_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
