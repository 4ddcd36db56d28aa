"""Request dependencies used by every router, defined once as Annotated aliases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import Role, User
from backend.config import Settings
from backend.core.errors import Forbidden, NotFound, Unauthorized
from backend.core.security import InvalidToken, decode_token

ModelT = TypeVar("ModelT")
_bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    """The running app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request; committed when the handler returns, then its events are pushed."""
    async with request.app.state.database.sessionmaker() as session:
        yield session
        await request.app.state.broadcaster.commit(session)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The active user named by a valid access token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token", code="not_authenticated")
    try:
        claims = decode_token(credentials.credentials, secret=settings.security.jwt_secret or "", kind="access")
    except InvalidToken as exc:
        raise Unauthorized(str(exc), code="invalid_token") from exc
    user = await session.get(User, claims.subject)
    if user is None or not user.is_active:
        raise Unauthorized("user is disabled or no longer exists", code="invalid_token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: Role) -> Any:
    """A dependency type admitting only users with one of the roles (403 otherwise)."""
    allowed = {role.value for role in roles}

    async def _check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"this action needs one of the roles: {', '.join(sorted(allowed))}")
        return user

    return Annotated[User, Depends(_check)]


AdminUser = require_role(Role.admin)


def org_scoped(statement: Select[Any], model: Any, user: User) -> Select[Any]:
    """Restrict a SELECT on an organisation-owned model to the user's organisation."""
    return statement.where(model.organization_id == user.organization_id)


async def get_in_org(session: AsyncSession, model: type[ModelT], object_id: uuid.UUID, user: User) -> ModelT:
    """Load one row of the user's organisation, or 404 (another organisation's rows do not exist)."""
    statement = org_scoped(select(model), model, user).where(model.id == object_id)  # type: ignore[attr-defined]
    row: ModelT | None = await session.scalar(statement)
    if row is None:
        raise NotFound(f"{model.__name__.lower()} {object_id} not found")
    return row
