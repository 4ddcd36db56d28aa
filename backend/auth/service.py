"""Authentication: login with throttling, token issue and rotation, and user management."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import service as audit
from backend.auth.models import LoginFailure, RefreshToken, Role, User
from backend.auth.schemas import TokenPair, UserOut
from backend.config import SecuritySettings
from backend.core.db import utcnow
from backend.core.errors import AppError, Conflict, NotFound
from backend.core.security import InvalidToken, decode_token, hash_password, issue_token, verify_password


@dataclass(frozen=True)
class LoginOutcome:
    """Result of checking credentials: a user, or why not."""

    user: User | None = None
    failure: str | None = None  # "invalid_credentials" | "user_disabled" | "throttled"
    retry_after: int = 0


async def seconds_until_unthrottled(
    session: AsyncSession, *, security: SecuritySettings, username: str, ip: str
) -> int:
    """0 when this username+IP may try to log in, else seconds until the oldest counted failure expires."""
    window_start = utcnow() - timedelta(seconds=security.login_window_seconds)
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.username == username, LoginFailure.ip == ip, LoginFailure.at > window_start
            )
        )
    ).one()
    if count < security.login_max_failures or oldest is None:
        return 0
    return max(1, int((oldest - window_start).total_seconds()) + 1)


async def check_login(
    session: AsyncSession, *, security: SecuritySettings, username: str, password: str, ip: str
) -> LoginOutcome:
    """Verify credentials under throttling; records failures in the session (the caller commits)."""
    username = username.strip()
    retry_after = await seconds_until_unthrottled(session, security=security, username=username, ip=ip)
    if retry_after:
        return LoginOutcome(failure="throttled", retry_after=retry_after)
    user = await session.scalar(select(User).where(User.username == username))
    # argon2 is deliberately slow: keep it off the event loop.
    matches = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if not matches or user is None:
        session.add(LoginFailure(username=username, ip=ip))
        await session.flush()
        return LoginOutcome(failure="invalid_credentials")
    if not user.is_active:
        return LoginOutcome(failure="user_disabled")
    await session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.ip == ip))
    user.last_login_at = utcnow()
    return LoginOutcome(user=user)


async def issue_tokens(
    session: AsyncSession, *, security: SecuritySettings, user: User, family_id: str | None = None
) -> TokenPair:
    """Sign an access token and store a new refresh token of the given (or a new) family."""
    secret = security.jwt_secret or ""
    access, _ = issue_token(
        secret=secret,
        user_id=user.id,
        organization_id=user.organization_id,
        role=user.role,
        kind="access",
        ttl_seconds=security.access_token_ttl_seconds,
    )
    refresh, claims = issue_token(
        secret=secret,
        user_id=user.id,
        organization_id=user.organization_id,
        role=user.role,
        kind="refresh",
        ttl_seconds=security.refresh_token_ttl_seconds,
    )
    session.add(
        RefreshToken(
            id=claims.token_id,
            user_id=user.id,
            family_id=family_id or claims.token_id,
            expires_at=claims.expires_at,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=security.access_token_ttl_seconds,
        user=UserOut.model_validate(user),
    )


@dataclass(frozen=True)
class RefreshOutcome:
    """New tokens, or the reason the refresh token was refused."""

    tokens: TokenPair | None = None
    failure: str | None = None


async def rotate_refresh_token(session: AsyncSession, *, security: SecuritySettings, token: str) -> RefreshOutcome:
    """Exchange a refresh token for a new pair; reuse of a rotated token revokes its whole family."""
    try:
        claims = decode_token(token, secret=security.jwt_secret or "", kind="refresh")
    except InvalidToken as exc:
        return RefreshOutcome(failure=str(exc))
    stored = await session.scalar(select(RefreshToken).where(RefreshToken.id == claims.token_id).with_for_update())
    if stored is None:
        return RefreshOutcome(failure="unknown refresh token")
    if stored.revoked_at is not None:
        await revoke_family(session, family_id=stored.family_id)
        return RefreshOutcome(failure="refresh token already used or revoked; the session was signed out")
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        return RefreshOutcome(failure="user is disabled or no longer exists")
    tokens = await issue_tokens(session, security=security, user=user, family_id=stored.family_id)
    stored.revoked_at = utcnow()
    stored.replaced_by = decode_token(tokens.refresh_token, secret=security.jwt_secret or "", kind="refresh").token_id
    return RefreshOutcome(tokens=tokens)


async def revoke_family(session: AsyncSession, *, family_id: str) -> None:
    """Revoke every live refresh token of one login session."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_user_sessions(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Revoke every live refresh token of a user (signs them out everywhere)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def logout(session: AsyncSession, *, security: SecuritySettings, token: str) -> None:
    """Revoke the login session a refresh token belongs to (silently ignores unknown tokens)."""
    try:
        claims = decode_token(token, secret=security.jwt_secret or "", kind="refresh")
    except InvalidToken:
        return
    stored = await session.get(RefreshToken, claims.token_id)
    if stored is not None:
        await revoke_family(session, family_id=stored.family_id)


async def list_users(session: AsyncSession, *, organization_id: uuid.UUID) -> list[User]:
    """Users of one organisation, by username."""
    return list(
        (
            await session.scalars(select(User).where(User.organization_id == organization_id).order_by(User.username))
        ).all()
    )


async def get_user(session: AsyncSession, *, organization_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """One user of the organisation, or 404."""
    user = await session.scalar(select(User).where(User.id == user_id, User.organization_id == organization_id))
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


async def create_user(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    username: str,
    password: str,
    role: Role,
    display_name: str = "",
    actor_id: uuid.UUID | None = None,
) -> User:
    """Create a user in an organisation (409 when the username is taken)."""
    user = User(
        organization_id=organization_id,
        username=username,
        password_hash=await asyncio.to_thread(hash_password, password),
        role=role.value,
        display_name=display_name or username,
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"username {username!r} is already taken", code="username_taken") from exc
    await session.refresh(user, ["organization"])
    await audit.record(
        session,
        organization_id=organization_id,
        actor_id=actor_id,
        action="user.create",
        target_type="user",
        target_id=str(user.id),
        detail={"after": user_audit(user)},
    )
    return user


def user_audit(user: User) -> dict[str, object]:
    """What the audit log keeps of a user (never the password hash)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "is_active": user.is_active,
    }


def update_action(before: dict[str, object], after: dict[str, object]) -> str:
    """The audit action of a user change: user.disable/enable, else user.role_change, else user.update."""
    if before["is_active"] != after["is_active"]:
        return "user.enable" if after["is_active"] else "user.disable"
    if before["role"] != after["role"]:
        return "user.role_change"
    return "user.update"


async def update_user(
    session: AsyncSession,
    *,
    user: User,
    actor: User,
    display_name: str | None = None,
    role: Role | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's name, role, password or active flag; disabling signs them out everywhere (audited)."""
    if user.id == actor.id and (is_active is False or (role is not None and role != Role.admin)):
        raise AppError("you cannot disable yourself or remove your own admin role", code="self_lockout")
    before = user_audit(user)
    if display_name is not None:
        user.display_name = display_name
    if role is not None:
        user.role = role.value
    if password is not None:
        user.password_hash = await asyncio.to_thread(hash_password, password)
    if is_active is not None:
        user.is_active = is_active
    if is_active is False or password is not None:
        await revoke_user_sessions(session, user_id=user.id)
    after = user_audit(user)
    detail = audit.changes(before, after)
    if password is not None:
        detail["before"]["password"], detail["after"]["password"] = "(hidden)", "(changed)"
    await audit.record(
        session,
        organization_id=user.organization_id,
        actor_id=actor.id,
        action=update_action(before, after),
        target_type="user",
        target_id=str(user.id),
        detail=detail,
    )
    return user
