"""Friends and group chats of a WeChat account, with their tags."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow


class Contact(UUIDPrimaryKey, Base):
    """One friend or group chat of an account; `tags` are the WeChat label names."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("account_id", "wxid"),
        Index("ix_contacts_tags", "tags", postgresql_using="gin"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    wxid: Mapped[str] = mapped_column(String(128))
    nickname: Mapped[str] = mapped_column(String(255), default="", server_default="")
    remark: Mapped[str] = mapped_column(String(255), default="", server_default="")
    is_group: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    tags: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
