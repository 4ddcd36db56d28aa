"""Login: tokens for good credentials, clear errors and throttling for bad ones."""

from __future__ import annotations

import httpx

from backend.auth.models import Role


async def test_login_returns_token_pair_and_user(client: httpx.AsyncClient, make_user) -> None:
    user, password = await make_user(Role.manager)
    response = await client.post("/api/auth/login", json={"username": user.username, "password": password})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"] and body["refresh_token"]
    assert body["user"]["username"] == user.username
    assert body["user"]["role"] == "manager"
    assert "password_hash" not in body["user"]


async def test_wrong_password_is_401_invalid_credentials(client: httpx.AsyncClient, make_user) -> None:
    user, _ = await make_user()
    response = await client.post("/api/auth/login", json={"username": user.username, "password": "nope-nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"username": "ghost", "password": "whatever1"})
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "invalid_credentials", "message": "wrong username or password"}


async def test_five_failures_then_429_with_retry_after(client: httpx.AsyncClient, make_user) -> None:
    user, password = await make_user()
    statuses = [
        (await client.post("/api/auth/login", json={"username": user.username, "password": "bad"})).status_code
        for _ in range(5)
    ]
    assert statuses == [401] * 5
    throttled = await client.post("/api/auth/login", json={"username": user.username, "password": password})
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(throttled.headers["retry-after"]) <= 900


async def test_throttling_is_per_username(client: httpx.AsyncClient, make_user) -> None:
    victim, _ = await make_user()
    other, other_password = await make_user()
    for _ in range(5):
        await client.post("/api/auth/login", json={"username": victim.username, "password": "bad"})
    response = await client.post("/api/auth/login", json={"username": other.username, "password": other_password})
    assert response.status_code == 200


async def test_successful_login_clears_earlier_failures(client: httpx.AsyncClient, make_user) -> None:
    user, password = await make_user()
    for _ in range(4):
        await client.post("/api/auth/login", json={"username": user.username, "password": "bad"})
    assert (
        await client.post("/api/auth/login", json={"username": user.username, "password": password})
    ).status_code == 200
    for _ in range(4):
        await client.post("/api/auth/login", json={"username": user.username, "password": "bad"})
    assert (
        await client.post("/api/auth/login", json={"username": user.username, "password": password})
    ).status_code == 200


async def test_disabled_user_cannot_log_in(client: httpx.AsyncClient, make_user, db) -> None:
    user, password = await make_user()
    async with db.sessionmaker() as session:
        stored = await session.get(type(user), user.id)
        stored.is_active = False
        await session.commit()
    response = await client.post("/api/auth/login", json={"username": user.username, "password": password})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "user_disabled"


async def test_empty_body_is_422_with_reason(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"username": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "password" in error["message"]


async def test_nul_character_in_the_username_is_refused_at_the_edge_with_422(client: httpx.AsyncClient) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: PostgreSQL refused the NUL in the failure record (503).
    response = await client.post("/api/auth/login", json={"username": "ghost\x00", "password": "whatever1"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == "username: Value error, must not contain NUL (\\u0000) characters"
