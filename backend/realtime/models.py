"""Realtime events kept per organisation so a console can replay what it missed."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt


class RealtimeEvent(CreatedAt, Base):
    """One event pushed to consoles, numbered by a per-organisation sequence."""

    __tablename__ = "realtime_events"
    __table_args__ = (
        UniqueConstraint("organization_id", "seq"),
        # Retention prunes by time (see ix_ingest_inbox_accepted_at_brin).
        Index("ix_realtime_events_created_at_brin", "created_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    rooms: Mapped[list[str]] = mapped_column(JSONB, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
