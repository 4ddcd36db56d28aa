"""`salesbot worker`: ingest consumers, SOP dispatch and leader-elected periodic jobs, without HTTP."""

from __future__ import annotations

import asyncio
import logging
import signal

import redis.asyncio as aioredis
import socketio

from backend.config import Settings
from backend.core.db import Database, ensure_migrated
from backend.ingest.runtime import ChannelRuntime
from backend.llm.factory import gateway_config
from backend.llm.gateway import LLMGateway
from backend.realtime.server import Broadcaster
from backend.sop.runtime import SopRuntime

logger = logging.getLogger(__name__)


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop`), then stop claiming, finish what is under way and exit."""
    assert settings.database.url and settings.redis.url
    database = Database(settings.database.url, settings.database)
    await ensure_migrated(database.engine)
    redis = aioredis.Redis.from_url(settings.redis.url)
    # Events reach the consoles through the API instances' Socket.IO servers, via Redis.
    manager = socketio.AsyncRedisManager(settings.redis.url, write_only=True)
    broadcaster = Broadcaster(manager)
    llm = LLMGateway(gateway_config(settings.llm), database=database, broadcaster=broadcaster)
    channel = ChannelRuntime(
        settings,
        database,
        redis=redis,
        commit=broadcaster.commit,
        llm=llm,
        sweep_stale_after=settings.ingest.sweep_stale_seconds,
        sweep_interval=settings.ingest.sweep_interval_seconds,
    )
    sop = SopRuntime(
        settings.sop, database, gateway=channel.gateway, pacer=channel.pacer, commit=broadcaster.commit, llm=llm
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await channel.start()
    await sop.start()
    logger.info("worker started", extra={"worker": sop.dispatcher.worker_id})
    try:
        await stop.wait()
    finally:
        logger.info("worker stopping: finishing sends under way")
        await sop.stop()
        await channel.stop()
        await llm.aclose()
        await redis.aclose()
        await database.dispose()
