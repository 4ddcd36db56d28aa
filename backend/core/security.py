"""Password hashing (argon2id) and signed JWTs for access and refresh tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TokenKind = Literal["access", "refresh"]
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "salesbot"

_hasher = PasswordHasher()
# A real hash verified when the username is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches the hash; always spends the hashing time."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class InvalidToken(Exception):
    """The token is malformed, tampered with, of the wrong kind, or expired."""


@dataclass(frozen=True)
class TokenClaims:
    """The claims this platform puts into a JWT."""

    subject: uuid.UUID
    organization_id: uuid.UUID
    role: str
    kind: TokenKind
    token_id: str
    expires_at: datetime


def issue_token(
    *,
    secret: str,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    role: str,
    kind: TokenKind,
    ttl_seconds: int,
    token_id: str | None = None,
) -> tuple[str, TokenClaims]:
    """Sign a JWT and return it with its claims."""
    now = datetime.now(UTC)
    claims = TokenClaims(
        subject=user_id,
        organization_id=organization_id,
        role=role,
        kind=kind,
        token_id=token_id or uuid.uuid4().hex,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "org": str(organization_id),
        "role": role,
        "typ": kind,
        "jti": claims.token_id,
        "iat": now,
        "exp": claims.expires_at,
        "iss": JWT_ISSUER,
    }
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM), claims


def decode_token(token: str, *, secret: str, kind: TokenKind) -> TokenClaims:
    """Verify signature, expiry, issuer and kind; raise InvalidToken with a reason otherwise."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            issuer=JWT_ISSUER,
            options={"require": ["exp", "sub", "org", "typ", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("invalid token") from exc
    if payload.get("typ") != kind:
        raise InvalidToken(f"not an {kind} token")
    try:
        return TokenClaims(
            subject=uuid.UUID(payload["sub"]),
            organization_id=uuid.UUID(payload["org"]),
            role=str(payload.get("role", "")),
            kind=kind,
            token_id=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except (ValueError, TypeError) as exc:
        raise InvalidToken("invalid token claims") from exc
