"""A WeChat account logged in through GeWe (a "device")."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, CreatedAt, UUIDPrimaryKey, utcnow


class AccountStatus(StrEnum):
    """Connection state of a WeChat account."""

    online = "online"
    offline = "offline"
    logging_in = "logging_in"
    error = "error"


class Account(UUIDPrimaryKey, CreatedAt, Base):
    """One WeChat account of an organisation; its GeWe token is stored encrypted."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("status in ('online','offline','logging_in','error')", name="status_known"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    nickname: Mapped[str] = mapped_column(String(120), default="", server_default="")
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    app_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    wxid: Mapped[str | None] = mapped_column(String(64), default=None)
    gewe_token_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    callback_secret: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.offline, server_default="offline")
    status_detail: Mapped[str] = mapped_column(String(255), default="", server_default="")
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
    ai_enabled: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    persona: Mapped[str] = mapped_column(Text, default="", server_default="")
    pacing: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    last_login_uuid: Mapped[str | None] = mapped_column(String(64), default=None)
