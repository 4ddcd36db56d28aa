"""The store-agent API is rate limited per user (AGENT_RATE_PER_MINUTE): 429 with Retry-After beyond."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from backend.auth.models import Role
from backend.config import Settings
from backend.core.ratelimit import KEY_PREFIX
from tests.fixtures.db import app_client

# Empty bodies: the limit is checked before the body is read, so no agent run is needed to count a request.
EMPTY: dict[str, object] = {}


@pytest.fixture
def two_a_minute(settings: Settings) -> Settings:
    """The test settings with two agent requests per user and minute."""
    limited = settings.model_copy(deep=True)
    limited.security.agent_rate_per_minute = 2
    return limited


async def test_agent_requests_beyond_the_limit_are_429_with_retry_after(two_a_minute: Settings, login) -> None:
    manager = await login(Role.manager)
    async with app_client(two_a_minute) as client:
        answers = [(await client.post("/api/agent/chat", json=EMPTY, headers=manager.headers)) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [422, 422, 429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_chat_and_execute_share_one_limit_per_user(two_a_minute: Settings, login) -> None:
    manager = await login(Role.manager)
    colleague = await login(Role.manager, organization=manager.user.organization)
    async with app_client(two_a_minute) as client:
        await client.post("/api/agent/chat", json=EMPTY, headers=manager.headers)
        await client.post("/api/agent/execute", json=EMPTY, headers=manager.headers)
        mine = await client.post("/api/agent/execute", json=EMPTY, headers=manager.headers)
        theirs = await client.post("/api/agent/chat", json=EMPTY, headers=colleague.headers)
    assert (mine.status_code, theirs.status_code) == (429, 422)


async def test_zero_turns_the_agent_limit_off(settings: Settings, login) -> None:
    unlimited = settings.model_copy(deep=True)
    unlimited.security.agent_rate_per_minute = 0
    manager = await login(Role.manager)
    async with app_client(unlimited) as client:
        answers = {
            (await client.post("/api/agent/chat", json=EMPTY, headers=manager.headers)).status_code for _ in range(5)
        }
    assert answers == {422}


@pytest.mark.redis
async def test_with_redis_the_agent_limit_is_counted_in_redis(
    two_a_minute: Settings, login, redis_client: aioredis.Redis, redis_url: str
) -> None:
    shared = two_a_minute.model_copy(deep=True)
    shared.redis.url = redis_url
    manager = await login(Role.manager)
    async with app_client(shared) as client:
        await client.post("/api/agent/chat", json=EMPTY, headers=manager.headers)
    assert await redis_client.zcard(f"{KEY_PREFIX}agent:{manager.user.id}") == 1
