"""Request and response bodies of /api/accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.core.inputs import Text


class PacingOverrides(BaseModel):
    """Per-account overrides of the shared pacer's defaults; unset fields keep the default."""

    model_config = ConfigDict(extra="forbid")

    per_minute_cap: int | None = Field(None, ge=1, le=600)
    min_gap_per_chat: float | None = Field(None, ge=0, le=3600)
    daily_cap: int | None = Field(None, ge=1)


class AccountCreateIn(BaseModel):
    """A new WeChat account; `app_id` only when re-using a device GeWe already knows."""

    nickname: Text = Field("", max_length=120)
    owner_user_id: uuid.UUID | None = None
    app_id: Text | None = Field(None, max_length=64)
    gewe_token: Text | None = Field(None, max_length=512, description="This account's X-GEWE-TOKEN (write-only)")
    ai_enabled: bool = True
    persona: Text = Field("", max_length=4000)
    pacing: PacingOverrides = Field(default_factory=PacingOverrides)


class AccountUpdateIn(BaseModel):
    """Fields to change; omitted fields stay as they are."""

    nickname: Text | None = Field(None, max_length=120)
    owner_user_id: uuid.UUID | None = None
    gewe_token: Text | None = Field(None, max_length=512)
    ai_enabled: bool | None = None
    persona: Text | None = Field(None, max_length=4000)
    pacing: PacingOverrides | None = None


class AccountOut(BaseModel):
    """An account as the console sees it; the GeWe token is never returned."""

    id: uuid.UUID
    nickname: str
    owner_user_id: uuid.UUID | None
    app_id: str | None
    wxid: str | None
    status: str
    status_detail: str
    status_changed_at: datetime
    ai_enabled: bool
    persona: str
    pacing: dict[str, Any]
    has_gewe_token: bool
    callback_url: str | None = Field(None, description="Where GeWe must post callbacks (admins and managers only)")
    created_at: datetime


class AccountPage(BaseModel):
    """Accounts of the organisation."""

    items: list[AccountOut]
    total: int


class LoginQrOut(BaseModel):
    """A login QR code to show; poll login-status until `status` is online."""

    app_id: str
    uuid: str
    qr_data: str
    qr_img_base64: str


class LoginStatusOut(BaseModel):
    """Progress of the QR login: 0 waiting for scan, 1 scanned, 2 logged in."""

    login_status: int
    expired_time: int | None
    needs_new_qr: bool
    account: AccountOut


class ContactOut(BaseModel):
    """A stored contact of the account."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    wxid: str
    nickname: str
    remark: str
    is_group: bool
    tags: list[str]
    added_at: datetime


class ContactPage(BaseModel):
    """Contacts of an account."""

    items: list[ContactOut]
    total: int


class ContactSyncOut(BaseModel):
    """What a contact sync stored."""

    friends: int
    groups: int
    total: int


class SendTextIn(BaseModel):
    """A text message to send as the account."""

    to_wxid: Text = Field(min_length=1, max_length=128)
    text: Text = Field(min_length=1, max_length=4000)
