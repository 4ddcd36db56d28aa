"""Handoff and reply policy: defaults, organisation settings, then account overrides."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.conversations.models import ConversationPolicy


class WorkingHours(BaseModel):
    """When people are at work; outside it the AI answers and queues handoffs for the morning."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    start: time = time(9, 0)
    end: time = time(21, 0)
    weekdays: list[int] = Field(default=[1, 2, 3, 4, 5, 6, 7], description="ISO weekdays, 1 = Monday")
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (aware) falls inside working hours."""
        if not self.enabled:
            return True
        local = at.astimezone(ZoneInfo(self.timezone))
        if local.isoweekday() not in self.weekdays:
            return False
        now = local.time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


class Policy(BaseModel):
    """Everything that decides when the AI replies and when people take over."""

    model_config = ConfigDict(extra="forbid")

    handoff_keywords: list[str] = ["转人工", "人工", "客服", "真人", "投诉", "退款", "退货", "12315", "举报"]
    handoff_tags: list[str] = Field(default=["VIP", "vip", "大客户"], description="customers with a tag go to people")
    handoff_on_low_confidence: bool = True
    handoff_ack_text: str = "好的，已为您转接人工客服，请稍候，马上有同事为您服务。"
    working_hours: WorkingHours = WorkingHours()
    idle_release_minutes: float = Field(default=30, gt=0, description="a quiet human conversation returns to the AI")
    handoff_accept_minutes: float = Field(default=5, gt=0, description="escalate to managers after this")
    group_reply_on_mention: bool = True
    group_keywords: list[str] = []
    group_allow_list: list[str] = Field(default=[], description="group wxids the AI may answer in; empty: all")
    banned_words: list[str] = ["保证治愈", "百分百有效", "稳赚", "全网最低", "返现", "加微信转账"]
    max_discount_percent: float = Field(default=20, ge=0, le=100, description="deepest discount the AI may promise")
    max_reply_chars: int = Field(default=300, ge=20, le=2000)
    history_limit: int = Field(default=20, ge=1, le=100)
    kb_top_k: int = Field(default=3, ge=0, le=10)
    kb_tags: list[str] = ["faq", "product"]
    placeholder_enabled: bool = False
    placeholder_after_seconds: float = Field(default=4.0, gt=0)
    placeholder_text: str = "请稍等，我帮您查一下～"
    typing_seconds_per_char: float = Field(default=0.0, ge=0, le=1, description="human-like delay before a reply")
    max_typing_seconds: float = Field(default=4.0, ge=0)
    llm_timeout_seconds: float = Field(default=20.0, gt=0)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`, nested dictionaries merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


async def stored_settings(
    session: AsyncSession, *, organization_id: uuid.UUID, account_id: uuid.UUID | None
) -> dict[str, Any]:
    """The settings stored for the organisation (account_id None) or one account, {} when none."""
    row = await session.scalar(
        select(ConversationPolicy.settings).where(
            ConversationPolicy.organization_id == organization_id,
            ConversationPolicy.account_id.is_(None)
            if account_id is None
            else ConversationPolicy.account_id == account_id,
        )
    )
    return dict(row or {})


# Built once: every processed message batch and every reply reads the policy.
EFFECTIVE_SETTINGS = select(ConversationPolicy.account_id, ConversationPolicy.settings).where(
    ConversationPolicy.organization_id == bindparam("organization_id"),
    ConversationPolicy.account_id.is_(None) | (ConversationPolicy.account_id == bindparam("account_id")),
)


async def effective_settings(
    session: AsyncSession, *, organization_id: uuid.UUID, account_id: uuid.UUID | None
) -> dict[str, Any]:
    """The organisation's settings with the account's overrides laid over them."""
    rows = (
        await session.execute(EFFECTIVE_SETTINGS, {"organization_id": organization_id, "account_id": account_id})
    ).all()
    combined: dict[str, Any] = {}
    for _, settings in sorted(rows, key=lambda row: row[0] is not None):
        combined = merge(combined, settings or {})
    return combined


async def effective_policy(session: AsyncSession, *, organization_id: uuid.UUID, account_id: uuid.UUID) -> Policy:
    """Defaults, then the organisation's settings, then the account's overrides."""
    return Policy.model_validate(
        await effective_settings(session, organization_id=organization_id, account_id=account_id)
    )
