"""Access and refresh tokens: expiry, tampering, rotation, revocation."""

from __future__ import annotations

import httpx

from backend.auth.models import Role
from backend.core.security import issue_token


async def test_me_returns_the_signed_in_user(client: httpx.AsyncClient, login) -> None:
    session = await login(Role.finance)
    response = await client.get("/api/auth/me", headers=session.headers)
    assert response.status_code == 200
    assert response.json()["id"] == str(session.user.id)
    assert response.json()["organization"]["id"] == str(session.user.organization_id)


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_expired_access_token_is_401(client: httpx.AsyncClient, make_user, settings) -> None:
    user, _ = await make_user()
    expired, _ = issue_token(
        secret=settings.security.jwt_secret,
        user_id=user.id,
        organization_id=user.organization_id,
        role=user.role,
        kind="access",
        ttl_seconds=-5,
    )
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "invalid_token", "message": "token expired"}


async def test_tampered_access_token_is_401(client: httpx.AsyncClient, login) -> None:
    session = await login()
    header, payload, signature = session.access_token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_token_signed_with_another_secret_is_401(client: httpx.AsyncClient, make_user) -> None:
    user, _ = await make_user()
    forged, _ = issue_token(
        secret="x" * 48,
        user_id=user.id,
        organization_id=user.organization_id,
        role="admin",
        kind="access",
        ttl_seconds=300,
    )
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_refresh_token_is_not_accepted_as_access_token(client: httpx.AsyncClient, login) -> None:
    session = await login()
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {session.refresh_token}"})
    assert response.status_code == 401


async def test_refresh_rotates_the_refresh_token(client: httpx.AsyncClient, login) -> None:
    session = await login()
    response = await client.post("/api/auth/refresh", json={"refresh_token": session.refresh_token})
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refresh_token"] != session.refresh_token
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert me.status_code == 200


async def test_reused_refresh_token_is_refused_and_revokes_its_family(client: httpx.AsyncClient, login) -> None:
    session = await login()
    first = (await client.post("/api/auth/refresh", json={"refresh_token": session.refresh_token})).json()
    reuse = await client.post("/api/auth/refresh", json={"refresh_token": session.refresh_token})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "invalid_refresh_token"
    after_theft = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert after_theft.status_code == 401


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient, login) -> None:
    session = await login()
    assert (await client.post("/api/auth/logout", json={"refresh_token": session.refresh_token})).status_code == 204
    response = await client.post("/api/auth/refresh", json={"refresh_token": session.refresh_token})
    assert response.status_code == 401
