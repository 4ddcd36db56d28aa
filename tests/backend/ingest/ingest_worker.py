"""Subprocess for the SIGKILL test: consumes the Redis ingest streams until killed."""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio as aioredis

from backend.core.db import Database
from backend.ingest.dispatcher import Processor, RedisStreamDispatcher


async def consume(database_url: str, redis_url: str, prefix: str) -> None:
    """Process inbox rows from the lane streams (re-claiming a dead consumer's entries after 0.5 s)."""
    database = Database(database_url)
    redis = aioredis.Redis.from_url(redis_url)
    dispatcher = RedisStreamDispatcher(redis, Processor(database.sessionmaker), prefix=prefix, claim_idle_ms=500)
    await dispatcher.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(consume(*sys.argv[1:4]))
