"""Subprocess for the two-process pacer test: hammers one account through RedisPacer, prints its grants."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import redis.asyncio as aioredis

from bots.pacer import PacingPolicy, RedisPacer


async def hammer(redis_url: str, key_prefix: str, account: str, count: int, start_at: float, worker: str) -> None:
    """Reserve `count` sends as fast as allowed, starting at `start_at`, and print slots and send times."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    policy = PacingPolicy(
        per_minute_cap=5, window_seconds=1.0, min_gap_per_chat=0.0, switch_jitter=(0.0, 0.0), daily_cap=None
    )
    pacer = RedisPacer(client, policy, key_prefix=key_prefix)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    slots, sent = [], []
    for i in range(count):
        slot = await pacer.reserve_at(account, f"{worker}-chat{i % 3}")
        await asyncio.sleep(max(0.0, slot - time.time()))
        slots.append(slot)
        sent.append(time.time())
    await client.aclose()
    sys.stdout.write(json.dumps({"slots": slots, "sent": sent}))


if __name__ == "__main__":
    url, prefix, account_id, n, start, name = sys.argv[1:7]
    asyncio.run(hammer(url, prefix, account_id, int(n), float(start), name))
