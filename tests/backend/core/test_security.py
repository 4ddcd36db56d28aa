"""Password hashing and token signing."""

from __future__ import annotations

import uuid

import pytest

from backend.core.security import InvalidToken, decode_token, hash_password, issue_token, verify_password


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")


def test_missing_hash_never_verifies() -> None:
    assert not verify_password(None, "not-a-real-password")


def test_token_round_trip_keeps_claims() -> None:
    user_id, org_id = uuid.uuid4(), uuid.uuid4()
    token, claims = issue_token(
        secret="s" * 40, user_id=user_id, organization_id=org_id, role="sales", kind="access", ttl_seconds=60
    )
    decoded = decode_token(token, secret="s" * 40, kind="access")
    assert (decoded.subject, decoded.organization_id, decoded.role) == (user_id, org_id, "sales")
    assert decoded.token_id == claims.token_id


def test_token_of_the_wrong_kind_is_invalid() -> None:
    token, _ = issue_token(
        secret="s" * 40,
        user_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        role="sales",
        kind="refresh",
        ttl_seconds=60,
    )
    with pytest.raises(InvalidToken, match="not an access token"):
        decode_token(token, secret="s" * 40, kind="access")
