"""Request and response bodies of authentication and user management."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from backend.auth.models import Role
from backend.core.inputs import Text


class OrganizationOut(BaseModel):
    """An organisation as users see it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str


class UserOut(BaseModel):
    """A user as the console shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    is_active: bool
    organization: OrganizationOut
    created_at: datetime
    last_login_at: datetime | None = None


class LoginIn(BaseModel):
    """Credentials."""

    username: Text = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(BaseModel):
    """A refresh token to rotate or revoke."""

    refresh_token: str = Field(min_length=1, max_length=2048)


class TokenPair(BaseModel):
    """Tokens issued at login and refresh."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


class UserCreateIn(BaseModel):
    """An admin creating a user in their organisation."""

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=256)
    role: Role
    display_name: Text = Field("", max_length=120)


class UserUpdateIn(BaseModel):
    """Fields an admin may change on a user."""

    display_name: Text | None = Field(None, max_length=120)
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=256)


class UserPage(BaseModel):
    """Users of the caller's organisation."""

    items: list[UserOut]
    total: int
