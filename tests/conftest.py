"""Shared fixtures: real services only (Redis at REDIS_URL; PostgreSQL fixtures in tests/fixtures/db.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

pytest_plugins = ["tests.fixtures.db"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(name: str, reason: str) -> None:
    """Fail under CI=true, skip elsewhere, when a real service a test needs is missing."""
    message = f"{name} is not available: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing service fails the run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server the tests use (REDIS_URL, default 127.0.0.1:6379 db 15)."""
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A connected Redis client on an emptied test database; fails under CI when Redis is down."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:  # any connection failure means the service is missing
        await client.aclose()
        require_service("Redis", f"{redis_url}: {exc}")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()
