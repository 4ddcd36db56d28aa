"""Users, their refresh tokens and failed login records."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.db import Base, CreatedAt, UUIDPrimaryKey, utcnow
from backend.organizations.models import Organization


class Role(StrEnum):
    """What a user may do in the console."""

    admin = "admin"
    manager = "manager"
    sales = "sales"
    finance = "finance"


class User(UUIDPrimaryKey, CreatedAt, Base):
    """A console user belonging to exactly one organisation."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role in ('admin','manager','sales','finance')", name="role_known"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    organization: Mapped[Organization] = relationship(lazy="joined")


class RefreshToken(CreatedAt, Base):
    """One issued refresh token; rotated on use, a reused one revokes its whole family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    replaced_by: Mapped[str | None] = mapped_column(String(64), default=None)


class LoginFailure(Base):
    """A failed login, counted over a sliding window per username and client address."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username_ip_at", "username", "ip", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
