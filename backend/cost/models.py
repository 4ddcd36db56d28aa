"""Cost accounting tables: prices, the append-only ledger, its rollups, budgets and raised alerts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt, UUIDPrimaryKey, utcnow

MONEY = Numeric(20, 8)
RATE = Numeric(14, 6)


class Price(UUIDPrimaryKey, CreatedAt, Base):
    """Price per 1M tokens of one provider+model from a date on; rows are only ever added, never edited."""

    __tablename__ = "cost_prices"
    __table_args__ = (
        UniqueConstraint("organization_id", "provider", "model", "effective_from", postgresql_nulls_not_distinct=True),
        Index("ix_cost_prices_model_effective", "model", "effective_from"),
    )

    # NULL: the list price every organisation pays; set: a price negotiated by that organisation.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), default=None
    )
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(120))
    effective_from: Mapped[datetime]
    input_per_million: Mapped[Decimal] = mapped_column(RATE)
    cached_input_per_million: Mapped[Decimal] = mapped_column(RATE)
    output_per_million: Mapped[Decimal] = mapped_column(RATE)
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default=text("'CNY'"))
    tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB(none_as_null=True), default=None)
    note: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)


class LedgerEntry(Base):
    """One LLM call attempt with its usage and exact cost; append-only (a trigger refuses updates)."""

    __tablename__ = "cost_ledger"
    __table_args__ = (
        Index("ix_cost_ledger_org_created", "organization_id", "created_at", "id"),
        CheckConstraint("status in ('ok','error','timeout','fallback')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(80), unique=True)
    call_id: Mapped[uuid.UUID]
    attempt: Mapped[int] = mapped_column(SmallInteger)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # Plain uuids, no foreign keys: the ledger outlives users, accounts and conversations.
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    account_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    origin: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(120))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default=text("'CNY'"))
    price_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cost_prices.id"), default=None)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class DailyRollup(Base):
    """Ledger totals per organisation, day (Asia/Shanghai), provider, model, origin, account and user."""

    __tablename__ = "cost_daily_rollups"
    __table_args__ = (
        UniqueConstraint(
            "organization_id",
            "day",
            "provider",
            "model",
            "origin",
            "account_id",
            "user_id",
            name="uq_cost_daily_rollups_key",
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(120))
    origin: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))


class ConversationRollup(Base):
    """Ledger totals per organisation, day and conversation (kept apart: conversations are many)."""

    __tablename__ = "cost_conversation_rollups"
    __table_args__ = (
        UniqueConstraint("organization_id", "day", "conversation_id", name="uq_cost_conv_rollups_key"),
        # Top conversations of a period: an index-only scan already in conversation order (see reports.summary).
        Index(
            "ix_cost_conv_rollups_org_conv_day",
            "organization_id",
            "conversation_id",
            "day",
            postgresql_include=[
                "cost",
                "calls",
                "failed_calls",
                "input_tokens",
                "cached_input_tokens",
                "output_tokens",
            ],
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    conversation_id: Mapped[uuid.UUID]
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))


class Budget(UUIDPrimaryKey, CreatedAt, Base):
    """A spending quota of an organisation, a WeChat account or a user over a daily or monthly window."""

    __tablename__ = "cost_budgets"
    __table_args__ = (
        CheckConstraint("scope in ('organization','account','user')", name="scope_known"),
        CheckConstraint("period in ('daily','monthly')", name="period_known"),
        CheckConstraint("quota_kind in ('money','tokens')", name="quota_kind_known"),
        CheckConstraint("hard_action in ('alert','downgrade_model','stop_ai','pause_sop')", name="action_known"),
        CheckConstraint("(scope = 'organization') = (scope_id is null)", name="scope_id_matches"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    period: Mapped[str] = mapped_column(String(8))
    quota_kind: Mapped[str] = mapped_column(String(8))
    quota: Mapped[Decimal] = mapped_column(MONEY)
    soft_threshold: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.8"))
    hard_action: Mapped[str] = mapped_column(String(16))
    downgrade_model: Mapped[str | None] = mapped_column(String(120), default=None)
    webhook_url: Mapped[str | None] = mapped_column(String(500), default=None)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=text("now()"))


class BudgetAlert(CreatedAt, Base):
    """An alert raised for a budget in one window at one level; the key makes it happen once."""

    __tablename__ = "cost_budget_alerts"
    __table_args__ = (UniqueConstraint("budget_id", "window_start", "level"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    budget_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_budgets.id", ondelete="CASCADE"))
    window_start: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(8))
    used: Mapped[Decimal] = mapped_column(MONEY)
    quota: Mapped[Decimal] = mapped_column(MONEY)
