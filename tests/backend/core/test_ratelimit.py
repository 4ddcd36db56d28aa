"""Sliding-window rate limits: in this process, or in Redis shared by every process."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from backend.core.ratelimit import KEY_PREFIX, InProcessRateLimiter, RedisRateLimiter


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_in_process_limiter_admits_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = InProcessRateLimiter(clock)
    admitted = [await limiter.hit("agent:u1", limit=3, window=60) for _ in range(3)]
    clock.now += 15
    assert admitted == [0, 0, 0]
    assert await limiter.hit("agent:u1", limit=3, window=60) == pytest.approx(45)


async def test_in_process_limiter_admits_again_once_the_oldest_hit_leaves_the_window() -> None:
    clock = Clock()
    limiter = InProcessRateLimiter(clock)
    for _ in range(2):
        await limiter.hit("agent:u1", limit=2, window=60)
    clock.now += 60
    assert await limiter.hit("agent:u1", limit=2, window=60) == 0


async def test_in_process_limiter_counts_each_key_apart() -> None:
    limiter = InProcessRateLimiter(Clock())
    await limiter.hit("agent:u1", limit=1, window=60)
    assert await limiter.hit("agent:u2", limit=1, window=60) == 0


@pytest.mark.redis
async def test_redis_limiter_is_shared_by_every_process(redis_client: aioredis.Redis, redis_url: str) -> None:
    key = f"agent:{uuid.uuid4()}"
    first, second = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    try:
        one, other = RedisRateLimiter(first), RedisRateLimiter(second)
        admitted = [await one.hit(key, limit=3, window=60), await other.hit(key, limit=3, window=60)]
        admitted.append(await one.hit(key, limit=3, window=60))
        refused = await other.hit(key, limit=3, window=60)
    finally:
        await first.aclose()
        await second.aclose()
    assert admitted == [0, 0, 0]
    assert 59 < refused <= 60
    assert await redis_client.zcard(KEY_PREFIX + key) == 3
    assert 0 < await redis_client.pttl(KEY_PREFIX + key) <= 60_000
