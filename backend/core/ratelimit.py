"""Per-key request rate limits over a sliding window: in Redis when REDIS_URL is set, in-process otherwise.

Routes use `per_user_limit(...)` as a dependency; beyond the limit the request gets 429 with Retry-After.
(Login throttling is different: it counts failed logins in PostgreSQL, see backend.auth.service.)
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from fastapi import Depends, Request

from backend.config import Settings
from backend.core.deps import CurrentUser
from backend.core.errors import TooManyRequests

KEY_PREFIX = "salesbot:ratelimit:"

# KEYS[1] sorted set of request times; ARGV: now (s), window (s), limit, member. Returns seconds to wait (0: go).
_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
return tostring(tonumber(oldest) + window - now)
"""


class RateLimiter(Protocol):
    """Admits at most `limit` hits per key in any `window` seconds."""

    async def hit(self, key: str, *, limit: int, window: float) -> float:
        """Count a hit and return 0, or the seconds until one is admitted (the hit is then not counted)."""
        ...


class InProcessRateLimiter:
    """Sliding-window limits held in this process (single-instance deployments)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, *, limit: int, window: float) -> float:
        """Count a hit and return 0, or the seconds until one is admitted."""
        async with self._lock:
            now = self.clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) < limit:
                hits.append(now)
                return 0.0
            return hits[0] + window - now


class RedisRateLimiter:
    """Sliding-window limits in Redis, shared by every process (one atomic script per hit)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(_SLIDING_WINDOW)

    async def hit(self, key: str, *, limit: int, window: float) -> float:
        """Count a hit and return 0, or the seconds until one is admitted."""
        wait = await self._script(keys=[KEY_PREFIX + key], args=[time.time(), window, limit, uuid.uuid4().hex])
        return float(wait)


def rate_limiter(app: Any) -> RateLimiter:
    """The app's limiter, made on first use: in Redis when the app has a Redis client, else in this process."""
    limiter: RateLimiter | None = getattr(app.state, "rate_limiter", None)
    if limiter is None:
        redis: aioredis.Redis | None = getattr(app.state, "redis", None)
        limiter = RedisRateLimiter(redis) if redis is not None else InProcessRateLimiter()
        app.state.rate_limiter = limiter
    return limiter


def per_user_limit(name: str, per_minute: Callable[[Settings], int]) -> Any:
    """A route dependency admitting `per_minute(settings)` requests per user and minute (0: no limit), else 429."""

    async def _limit(user: CurrentUser, request: Request) -> None:
        limit = per_minute(request.app.state.settings)
        if limit <= 0:
            return
        wait = await rate_limiter(request.app).hit(f"{name}:{user.id}", limit=limit, window=60.0)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                f"at most {limit} {name} requests a minute; try again in {seconds} s",
                retry_after=seconds,
                code="rate_limited",
            )

    return Depends(_limit)
