"""The ingest inbox: every accepted GeWe callback, kept until (and after) it is processed."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, utcnow


class InboxState(StrEnum):
    """Where an inbox row is in its life."""

    accepted = "accepted"
    processed = "processed"
    failed = "failed"
    malformed = "malformed"
    rejected = "rejected"


class InboxEntry(Base):
    """One callback as received; `(account_id, dedupe_key)` is unique (the newMsgId for messages)."""

    __tablename__ = "ingest_inbox"
    __table_args__ = (
        UniqueConstraint("account_id", "dedupe_key"),
        CheckConstraint("state in ('accepted','processed','failed','malformed','rejected')", name="state_known"),
        Index("ix_ingest_inbox_pending", "accepted_at", postgresql_where=text("state = 'accepted'")),
        Index(
            "ix_ingest_inbox_chat_pending", "account_id", "lane_key", "id", postgresql_where=text("state = 'accepted'")
        ),
        # Retention prunes by time; rows arrive in time order, so a BRIN index is tiny and costs inserts nothing.
        Index("ix_ingest_inbox_accepted_at_brin", "accepted_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    # Partition key of the dispatcher: one chat's events are handled in order.
    lane_key: Mapped[str] = mapped_column(String(128), default="", server_default="")
    # The body exactly as received (JSON text: JSONB cannot hold the \u0000 escapes real payloads carry).
    raw: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=InboxState.accepted)
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
