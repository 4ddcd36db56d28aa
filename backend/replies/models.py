"""The decision record of every AI reply attempt: inputs, knowledge hits, model, cost and outcome."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt

OUTCOMES = ("sent", "dropped", "blocked", "failed", "handoff", "skipped")


class ReplyDecision(CreatedAt, Base):
    """Why the AI said what it said (or why it stayed silent) for one customer message."""

    __tablename__ = "reply_decisions"
    __table_args__ = (
        CheckConstraint(f"outcome in {OUTCOMES!r}", name="outcome_known"),
        Index("ix_reply_decisions_conversation_id", "conversation_id", "id"),
        Index("ix_reply_decisions_reply_message_id", "reply_message_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    trigger_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reply_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    draft: Mapped[str] = mapped_column(Text, default="", server_default="")
    model: Mapped[str] = mapped_column(String(120), default="", server_default="")
    provider: Mapped[str] = mapped_column(String(60), default="", server_default="")
    input_tokens: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    output_tokens: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    cost: Mapped[Decimal] = mapped_column(Numeric(14, 6), default=Decimal(0), server_default=text("0"))
    latency_ms: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    kb_hits: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
