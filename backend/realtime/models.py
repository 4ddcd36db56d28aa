"""Realtime events kept per organisation so a console can replay what it missed."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt


class RealtimeEvent(CreatedAt, Base):
    """One event pushed to consoles, numbered by a per-organisation sequence."""

    __tablename__ = "realtime_events"
    __table_args__ = (UniqueConstraint("organization_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    rooms: Mapped[list[str]] = mapped_column(JSONB, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
