"""Request bodies over the limit are refused with 413 by the app itself, announced (Content-Length) or streamed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from backend.config import Settings
from tests.fixtures.db import app_client

API_LIMIT, CALLBACK_LIMIT = 1_000, 5_000


@pytest.fixture
def limited(settings: Settings) -> Settings:
    """The test settings with small body limits."""
    small = settings.model_copy(deep=True)
    small.server.max_body_bytes = API_LIMIT
    small.server.callback_max_body_bytes = CALLBACK_LIMIT
    return small


def login_body(size: int) -> bytes:
    """A login request body of exactly `size` bytes (an unknown user, padded with a field the route ignores)."""
    padding = size - len(json.dumps({"username": "nobody", "password": "wrong-password", "pad": ""}))
    return json.dumps({"username": "nobody", "password": "wrong-password", "pad": "p" * padding}).encode()


async def chunks(body: bytes, size: int = 256) -> AsyncIterator[bytes]:
    """The body as a chunked stream (no Content-Length)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_body_announced_over_the_limit_is_413_with_a_reason(limited: Settings, db) -> None:
    async with app_client(limited) as client:
        response = await client.post(
            "/api/auth/login", content=login_body(API_LIMIT + 1), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json() == {
        "error": {"code": "payload_too_large", "message": "request body is larger than the limit of 1,000 bytes"}
    }


async def test_a_chunked_body_growing_over_the_limit_is_413_with_a_reason(limited: Settings, db) -> None:
    async with app_client(limited) as client:
        response = await client.post(
            "/api/auth/login", content=chunks(login_body(API_LIMIT * 3)), headers={"content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_a_chunked_body_within_the_limit_reaches_the_route(limited: Settings, db) -> None:
    async with app_client(limited) as client:
        response = await client.post(
            "/api/auth/login", content=chunks(login_body(API_LIMIT)), headers={"content-type": "application/json"}
        )
    assert response.status_code == 401  # read and checked: no such user
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_callbacks_have_their_own_larger_limit(limited: Settings, db) -> None:
    body = json.dumps({"TypeName": "AddMsg", "Data": {"Content": {"string": "x" * (API_LIMIT * 2)}}}).encode()
    async with app_client(limited) as client:
        accepted = await client.post("/callbacks/gewe/no-such-secret", content=body)
        too_large = await client.post("/callbacks/gewe/no-such-secret", content=b" " * (CALLBACK_LIMIT + 1))
    assert accepted.status_code == 404  # over the API's limit, within the callbacks': read, then no such account
    assert too_large.status_code == 413


async def test_a_chunked_callback_over_its_limit_is_413(limited: Settings, db) -> None:
    async with app_client(limited) as client:
        response = await client.post("/callbacks/gewe/no-such-secret", content=chunks(b" " * (CALLBACK_LIMIT * 2)))
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "request body is larger than the limit of 5,000 bytes"
