"""Routes: /api/auth (login, refresh, me, logout) and /api/users (admin user management)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from backend.auth import service
from backend.auth.schemas import LoginIn, RefreshIn, TokenPair, UserCreateIn, UserOut, UserPage, UserUpdateIn
from backend.core.deps import AdminUser, CurrentUser, SessionDep, SettingsDep
from backend.core.errors import Forbidden, TooManyRequests, Unauthorized
from backend.core.metrics import LOGINS

auth_router = APIRouter(prefix="/api/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/users", tags=["users"])


def client_ip(request: Request) -> str:
    """Address of the client (uvicorn resolves trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


@auth_router.post("/login", response_model=TokenPair)
async def login(body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Exchange username and password for an access and a refresh token."""
    security = settings.security
    outcome = await service.check_login(
        session, security=security, username=body.username, password=body.password, ip=client_ip(request)
    )
    LOGINS.labels(outcome.failure or "success").inc()
    if outcome.failure == "throttled":
        minutes = max(1, round(outcome.retry_after / 60))
        raise TooManyRequests(
            f"too many failed logins; try again in about {minutes} minute(s)",
            retry_after=outcome.retry_after,
            code="too_many_attempts",
        )
    if outcome.failure == "user_disabled":
        raise Forbidden("this account is disabled; ask an administrator", code="user_disabled")
    if outcome.user is None:
        await session.commit()  # keep the failure record although the request fails
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    return await service.issue_tokens(session, security=security, user=outcome.user)


@auth_router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Rotate a refresh token: the old one is revoked, a new pair returned."""
    outcome = await service.rotate_refresh_token(session, security=settings.security, token=body.refresh_token)
    if outcome.tokens is None:
        await session.commit()  # keep a family revocation caused by token reuse
        raise Unauthorized(outcome.failure or "invalid refresh token", code="invalid_refresh_token")
    return outcome.tokens


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> Response:
    """Revoke the login session of a refresh token."""
    await service.logout(session, security=settings.security, token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    """The signed-in user."""
    return UserOut.model_validate(user)


@users_router.get("", response_model=UserPage)
async def list_users(admin: AdminUser, session: SessionDep) -> UserPage:
    """Users of the admin's organisation."""
    users = await service.list_users(session, organization_id=admin.organization_id)
    return UserPage(items=[UserOut.model_validate(u) for u in users], total=len(users))


@users_router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreateIn, admin: AdminUser, session: SessionDep) -> UserOut:
    """Create a user in the admin's organisation."""
    user = await service.create_user(
        session,
        organization_id=admin.organization_id,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        actor_id=admin.id,
    )
    return UserOut.model_validate(user)


@users_router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, admin: AdminUser, session: SessionDep) -> UserOut:
    """One user of the admin's organisation."""
    return UserOut.model_validate(
        await service.get_user(session, organization_id=admin.organization_id, user_id=user_id)
    )


@users_router.patch("/{user_id}", response_model=UserOut)
async def update_user(user_id: uuid.UUID, body: UserUpdateIn, admin: AdminUser, session: SessionDep) -> UserOut:
    """Rename, change role, reset password, or disable/enable a user."""
    user = await service.get_user(session, organization_id=admin.organization_id, user_id=user_id)
    updated = await service.update_user(
        session,
        user=user,
        actor=admin,
        display_name=body.display_name,
        role=body.role,
        is_active=body.is_active,
        password=body.password,
    )
    return UserOut.model_validate(updated)
