"""Organisations: the tenant boundary every row belongs to."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt, UUIDPrimaryKey


class Organization(UUIDPrimaryKey, CreatedAt, Base):
    """A company using the platform; nobody sees another organisation's data."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    # Last realtime event sequence number handed out; bumped in the transaction that stores the event.
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
