"""Retail tables (schema `retail`) queried by the agent, and the knowledge base (schema `kb`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, SmallInteger, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, utcnow

RETAIL = "retail"
KB = "kb"
READ_ONLY_ROLE = "salesbot_agent_ro"
Money = Numeric(12, 2)
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class KbChunk(Base):
    """A retrievable piece of a document; its `embedding` column (vector(384) or float8[]) is managed in SQL."""

    __tablename__ = "chunks"
    __table_args__ = ({"schema": KB},)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey(f"{KB}.documents.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
