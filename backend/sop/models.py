"""SOP definitions, their resolved targets and one delivery row per (sop, step, target, occurrence)."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt, UUIDPrimaryKey, utcnow


class Sop(UUIDPrimaryKey, CreatedAt, Base):
    """A SOP: targets, steps and its run state."""

    __tablename__ = "sops"
    __table_args__ = (
        CheckConstraint("status in ('draft','running','paused','cancelled','completed')", name="status_known"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai", server_default="Asia/Shanghai")
    dynamic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    targets: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    status_reason: Mapped[str] = mapped_column(String(255), default="", server_default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"), onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Recurring (cron) steps are planned up to here; the leader's tick moves it forward.
    planned_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class SopStep(UUIDPrimaryKey, Base):
    """One step: content template, timing, send window, stop conditions."""

    __tablename__ = "sop_steps"
    __table_args__ = (UniqueConstraint("sop_id", "position"),)

    sop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sops.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    timing: Mapped[dict[str, Any]] = mapped_column(JSONB)
    window_start: Mapped[time | None] = mapped_column(Time, default=None)
    window_end: Mapped[time | None] = mapped_column(Time, default=None)
    missed: Mapped[str] = mapped_column(String(16), default="late", server_default="late")
    when_human: Mapped[str] = mapped_column(String(8), default="wait", server_default="wait")
    stop_on_reply: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    stop_on_tags: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    ai_personalize: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    ai_instruction: Mapped[str] = mapped_column(Text, default="", server_default="")


class SopTarget(Base):
    """A contact a SOP resolved to (snapshot at start; dynamic SOPs add newcomers on each tick)."""

    __tablename__ = "sop_targets"

    sop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sops.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    resolved_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class SopDelivery(Base):
    """One message of one step to one target for one occurrence; its unique key makes the send happen at most once."""

    __tablename__ = "sop_deliveries"
    __table_args__ = (
        UniqueConstraint("sop_id", "step_id", "contact_id", "occurrence", name="uq_sop_deliveries_once"),
        CheckConstraint(
            "status in ('pending','claimed','sending','sent','skipped','dead','cancelled')", name="status_known"
        ),
        # What dispatchers scan: only rows still to send.
        Index("ix_sop_deliveries_due", "due_at", postgresql_where=text("status = 'pending'")),
        # Expired claims the leader hands back.
        Index("ix_sop_deliveries_in_flight", "claimed_until", postgresql_where=text("status in ('claimed','sending')")),
        Index("ix_sop_deliveries_progress", "sop_id", "account_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sop_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sops.id", ondelete="CASCADE"))
    step_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sop_steps.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    occurrence: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    planned_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    attempt_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    message_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    gewe_new_msg_id: Mapped[str | None] = mapped_column(String(32), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
