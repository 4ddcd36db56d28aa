"""`salesbot worker`: ingest consumers, SOP dispatch and leader-elected periodic jobs; HTTP only for /metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

import redis.asyncio as aioredis
import socketio

from backend.config import Settings
from backend.core.db import Database, ensure_migrated
from backend.core.heap import frozen_startup_heap
from backend.core.metrics import serve_metrics
from backend.ingest.runtime import ChannelRuntime
from backend.llm.factory import gateway_config
from backend.llm.gateway import LLMGateway
from backend.realtime.server import Broadcaster
from backend.sop.runtime import SopRuntime

logger = logging.getLogger(__name__)


class MetricsUnavailable(RuntimeError):
    """The worker's /metrics endpoint cannot listen on WORKER_METRICS_HOST:WORKER_METRICS_PORT."""


def start_metrics(host: str, port: int) -> Callable[[], None] | None:
    """Serve the worker's Prometheus metrics unless the port is 0; returns how to stop them."""
    if not port:
        return None
    try:
        return serve_metrics(host, port)
    except OSError as exc:
        raise MetricsUnavailable(f"cannot serve worker metrics on {host}:{port}: {exc.strerror or exc}") from exc


def lower_cpu_priority(niceness: int) -> None:
    """Add `niceness` to this process's niceness (0: leave it)."""
    if niceness:
        # Intake answers GeWe within its timeout and must not queue behind processing on a shared machine: with
        # an equal share, a worker catching up on a burst made the API instance's accept p99 60-90 ms (tests/perf/ingest).
        os.nice(niceness)


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop`), then stop claiming, finish what is under way and exit."""
    assert settings.database.url and settings.redis.url
    stop_metrics = start_metrics(settings.worker.metrics_host, settings.worker.metrics_port)
    database = Database(settings.database.url, settings.database)
    await ensure_migrated(database.engine)
    redis = aioredis.Redis.from_url(settings.redis.url)
    # Events reach the consoles through the API instances' Socket.IO servers, via Redis.
    manager = socketio.AsyncRedisManager(settings.redis.url, write_only=True)
    broadcaster = Broadcaster(manager)
    llm = LLMGateway(
        gateway_config(settings.llm, webhook_allow_private=settings.security.webhook_allow_private),
        database=database,
        broadcaster=broadcaster,
    )
    channel = ChannelRuntime(
        settings,
        database,
        redis=redis,
        commit=broadcaster.commit,
        llm=llm,
        sweep_stale_after=settings.ingest.sweep_stale_seconds,
        sweep_interval=settings.ingest.sweep_interval_seconds,
        max_process_batch=256,  # no callbacks to answer here: fewer, larger transactions
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
    logger.info(
        "worker started",
        extra={"worker": sop.dispatcher.worker_id, "metrics_port": settings.worker.metrics_port or None},
    )
    try:
        with frozen_startup_heap():
            await stop.wait()
    finally:
        logger.info("worker stopping: finishing sends under way")
        if stop_metrics is not None:
            stop_metrics()
        await sop.stop()
        await channel.stop()
        await llm.aclose()
        await redis.aclose()
        await database.dispose()
