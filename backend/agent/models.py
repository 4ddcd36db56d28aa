"""Retail tables (schema `retail`) queried by the agent, and the knowledge base (schema `kb`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, utcnow

RETAIL = "retail"
KB = "kb"
READ_ONLY_ROLE = "salesbot_agent_ro"
Money = Numeric(12, 2)
Total = Numeric(16, 2)  # sums of Money in rollups
MONEY_MAX = Decimal("9999999999.99")  # largest amount a Money column holds


class Store(Base):
    """A shop of the chain."""

    __tablename__ = "stores"
    __table_args__ = ({"schema": RETAIL},)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    city: Mapped[str] = mapped_column(String(40))


class Member(Base):
    """A loyalty member registered at a store."""

    __tablename__ = "members"
    __table_args__ = ({"schema": RETAIL},)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey(f"{RETAIL}.stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(SmallInteger)
    total_spent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    """A checkout; pay_status 1 = paid, 0 = payment failed; member_id NULL for walk-in guests."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_retail_orders_paid_at", "paid_at"),
        Index("ix_retail_orders_store_id_paid_at", "store_id", "paid_at"),
        Index("ix_retail_orders_member_id_paid_at", "member_id", "paid_at"),
        {"schema": RETAIL},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey(f"{RETAIL}.stores.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey(f"{RETAIL}.members.id"))
    paid_at: Mapped[datetime]
    pay_status: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money)
    original_amount: Mapped[Decimal] = mapped_column(Money)


class OrderItem(Base):
    """One line of an order."""

    __tablename__ = "order_items"
    __table_args__ = ({"schema": RETAIL},)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey(f"{RETAIL}.orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    qty: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Money)


class MemberCoupon(Base):
    """A coupon issued to a member (发券); `redeemed_at` and `order_id` are set when a paid order used it (核销)."""

    __tablename__ = "member_coupons"
    __table_args__ = (
        Index("ix_retail_member_coupons_issued_at", "issued_at"),
        Index("ix_retail_member_coupons_store_id_issued_at", "store_id", "issued_at"),
        Index("ix_retail_member_coupons_member_id_issued_at", "member_id", "issued_at"),
        # One coupon per order (coupons do not stack).
        Index("uq_retail_member_coupons_order_id", "order_id", unique=True),
        CheckConstraint("(redeemed_at IS NULL) = (order_id IS NULL)", name="redeemed_with_order"),
        CheckConstraint("expires_at > issued_at", name="expires_after_issue"),
        {"schema": RETAIL},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey(f"{RETAIL}.members.id"))
    # The issuing store: the member's home store when the coupon was issued.
    store_id: Mapped[int] = mapped_column(ForeignKey(f"{RETAIL}.stores.id"))
    campaign: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[Decimal] = mapped_column(Money)
    value: Mapped[Decimal] = mapped_column(Money)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    order_id: Mapped[int | None] = mapped_column(ForeignKey(f"{RETAIL}.orders.id"))


class DailyStoreSales(Base):
    """Rollup of orders per China day, store, channel and member level (0 = walk-in guests); see rollups.py."""

    __tablename__ = "daily_store_sales"
    __table_args__ = ({"schema": RETAIL},)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey(f"{RETAIL}.stores.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    member_level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    paid_orders: Mapped[int] = mapped_column(Integer)
    gmv: Mapped[Decimal] = mapped_column(Total)
    original_amount: Mapped[Decimal] = mapped_column(Total)


class DailyCouponStats(Base):
    """Rollup of member coupons per China day of issue, issuing store and member level; see rollups.py."""

    __tablename__ = "daily_coupon_stats"
    __table_args__ = ({"schema": RETAIL},)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey(f"{RETAIL}.stores.id"), primary_key=True)
    member_level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    issued: Mapped[int] = mapped_column(Integer)
    redeemed: Mapped[int] = mapped_column(Integer)


class RollupState(Base):
    """When a rollup was rebuilt and the newest source rows it saw (the semantic layer's freshness check)."""

    __tablename__ = "rollup_state"
    __table_args__ = ({"schema": RETAIL},)

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    refreshed_at: Mapped[datetime]
    orders_through: Mapped[datetime | None]
    coupons_through: Mapped[datetime | None]
    source_rows: Mapped[int] = mapped_column(BigInteger)


class Coupon(Base):
    """A coupon as the CRM keeps it: draft until published."""

    __tablename__ = "coupons"
    __table_args__ = ({"schema": RETAIL},)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(20))
    threshold: Mapped[Decimal] = mapped_column(Money)
    value: Mapped[Decimal] = mapped_column(Money)
    max_redemptions: Mapped[int] = mapped_column(Integer, default=0)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class Campaign(Base):
    """A campaign plan that was executed."""

    __tablename__ = "campaigns"
    __table_args__ = ({"schema": RETAIL},)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    goal: Mapped[str] = mapped_column(Text)
    budget: Mapped[Decimal] = mapped_column(Money)
    duration_days: Mapped[int] = mapped_column(Integer)
    plan_json: Mapped[dict[str, Any]] = mapped_column(JSONB)
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class ActionLog(Base):
    """Audit and idempotency of agent actions: written before the CRM call, updated after."""

    __tablename__ = "action_logs"
    __table_args__ = ({"schema": RETAIL},)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    action_type: Mapped[str] = mapped_column(String(32))
    request_json: Mapped[dict[str, Any]] = mapped_column(JSONB)
    response_json: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"), onupdate=utcnow)


class KbDocument(Base):
    """A knowledge-base document (Markdown), identified by its source path or title."""

    __tablename__ = "documents"
    __table_args__ = (
        Index(
            "uq_kb_documents_org_source", "organization_id", "source", unique=True, postgresql_nulls_not_distinct=True
        ),
        {"schema": KB},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # NULL: shared by every organisation (the starter KB); else private to one organisation. No foreign key:
    # the kb schema is a separate store (Chroma can replace it) and must not be emptied by TRUNCATE ... CASCADE.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    source: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    content_sha: Mapped[str] = mapped_column(String(64))
    # The embedder that made its chunks' vectors: a document embedded by another model is embedded again on load.
    embedder: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class KbChunk(Base):
    """A retrievable piece of a document; its `embedding` (vector of any dimension, or float8[]) is managed in SQL."""

    __tablename__ = "chunks"
    __table_args__ = ({"schema": KB},)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey(f"{KB}.documents.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    embedder: Mapped[str] = mapped_column(String(300), default="", server_default="")
