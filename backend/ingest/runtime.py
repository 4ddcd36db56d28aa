"""The WeChat channel's background machinery of one process: GeWe gateway, pacer, dispatcher, sweeper, monitor."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

import redis.asyncio as aioredis
from fastapi import FastAPI

from backend.accounts.gewe import GeweGateway, token_cipher
from backend.accounts.status import LEADER_LOCK as STATUS_LEADER_LOCK
from backend.accounts.status import StatusMonitor
from backend.agent.embedder import get_embedder
from backend.config import Settings
from backend.conversations.janitor import ConversationJanitor
from backend.core.db import CommitFn, Database, plain_commit
from backend.core.leader import LeaderElection
from backend.core.metrics import CALLBACKS
from backend.ingest import service
from backend.ingest.dispatcher import (
    Dispatcher,
    IntakeGauge,
    LocalDispatcher,
    Processor,
    RedisStreamDispatcher,
    Sweeper,
    WorkItem,
)
from backend.ingest.repository import AccountGone, InboxRepository
from backend.ingest.retention import Retention
from backend.ingest.service import AcceptOutcome, AcceptResult, AccountDirectory
from backend.llm.factory import get_gateway
from backend.llm.gateway import LLMGateway
from backend.replies.runtime import ReplyWorker
from backend.replies.service import ReplyDeps
from bots.pacer import InProcessPacer, PacingPolicy, RedisPacer

logger = logging.getLogger(__name__)
# Seconds added to pacing gaps and windows so the limits hold as GeWe sees the sends (see PacingPolicy).
SEND_MARGIN = 0.2


class ChannelRuntime:
    """Everything one process needs to talk to GeWe and ingest callbacks; start it from the app or a worker."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        redis: aioredis.Redis | None = None,
        commit: CommitFn = plain_commit,
        consume: bool = True,
        stream_lanes: int = 8,
        sweep_stale_after: float = 30.0,
        sweep_interval: float = 10.0,
        claim_idle_ms: int = 30_000,
        check_online_interval: float = 60.0,
        reconnect_delays: Sequence[float] = (5.0, 15.0, 45.0),
        llm: LLMGateway | None = None,
        janitor_interval: float = 15.0,
        max_process_batch: int = 32,
    ) -> None:
        self.settings = settings
        self.database = database
        self.consume = consume
        self.gateway = GeweGateway(settings.gewe, token_cipher(settings.security))
        policy = PacingPolicy(send_margin=SEND_MARGIN)
        self.pacer: InProcessPacer | RedisPacer = (
            RedisPacer(redis, policy) if redis is not None else InProcessPacer(policy)
        )
        self.repository = InboxRepository(database.url)
        self.directory = AccountDirectory(self.repository)
        # Several processes share the accounts only with Redis (scale-out): then one of them, elected, checks them.
        status_leader = (
            LeaderElection(database.engine, STATUS_LEADER_LOCK, interval=settings.sop.leader_retry_seconds)
            if redis is not None
            else None
        )
        self.monitor = StatusMonitor(
            database.sessionmaker,
            self.gateway,
            commit=commit,
            interval=check_online_interval,
            reconnect_delays=reconnect_delays,
            leader=status_leader,
        )
        self.replies: ReplyWorker | None = None
        if llm is not None:
            deps = ReplyDeps(
                sessionmaker=database.sessionmaker,
                commit=commit,
                llm=llm,
                gewe=self.gateway,
                pacer=self.pacer,
                kb_engine=database.engine,
                embedder=partial(get_embedder, settings.embeddings.model_path),
            )
            self.replies = ReplyWorker(deps)
        self.janitor = ConversationJanitor(database.sessionmaker, commit=commit, interval=janitor_interval)
        self.intake = IntakeGauge()
        self.processor = Processor(
            database.sessionmaker,
            commit=commit,
            on_offline=self.monitor.request_reconnect,
            on_reply=self.replies.submit if self.replies else None,
        )
        # Every process sharing Redis must use the same number of streams; in-process lanes are LocalDispatcher's.
        # max_process_batch: the CPU-bound steps of a batch grow with it and callbacks this process accepts wait
        # behind them, so a process that serves HTTP keeps batches small (1,000 callbacks/s paced, one process:
        # accept p99 43 ms with 256 rows, 21-23 ms with 64, 15-20 ms with 32); `salesbot worker` takes 256.
        self.dispatcher: Dispatcher = (
            RedisStreamDispatcher(
                redis,
                self.processor,
                lanes=stream_lanes,
                claim_idle_ms=claim_idle_ms,
                max_process_batch=max_process_batch,
                intake=self.intake,
            )
            if redis is not None
            else LocalDispatcher(self.processor, max_batch=max_process_batch, intake=self.intake)
        )
        self.sweeper = Sweeper(
            database.sessionmaker, self.dispatcher, stale_after=sweep_stale_after, interval=sweep_interval
        )
        self.retention = Retention(database.sessionmaker, settings.retention, commit=commit)

    async def accept(self, secret: str, body: bytes) -> AcceptResult:
        """Store one callback durably (one short transaction), then hand it to the dispatcher."""
        try:
            with self.intake.accepting():
                result = await service.accept_callback(self.directory, secret=secret, body=body)
        except AccountGone:
            # The cached account was deleted in the meantime.
            self.directory.forget(secret)
            return AcceptResult(AcceptOutcome.unknown_secret, "no account has this callback URL")
        CALLBACKS.labels(result.outcome.value).inc()
        if result.outcome == AcceptOutcome.accepted and result.entry_id is not None:
            try:
                await self.dispatcher.submit(WorkItem(result.entry_id, result.lane_key))
            except Exception:
                # Stored is what counts: the sweeper dispatches it later.
                logger.exception("dispatching inbox row %s failed; the sweeper will retry", result.entry_id)
        return result

    async def start(self) -> None:
        """Start consuming, sweeping, pruning and status checks (consume=False: accept and send only)."""
        if self.consume:
            await self.dispatcher.start()
            await self.sweeper.start()
            await self.janitor.start()
            await self.retention.start()
        await self.monitor.start()

    async def stop(self) -> None:
        """Stop background work and close the GeWe HTTP pool."""
        await self.monitor.stop()
        await self.retention.stop()
        await self.janitor.stop()
        await self.sweeper.stop()
        await self.dispatcher.stop()
        if self.replies is not None:
            await self.replies.stop()
        await self.gateway.aclose()
        await self.repository.close()


@asynccontextmanager
async def channel_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the channel for the app's lifetime; in demo mode without GEWE_API_BASE, with the bundled simulator."""
    from backend.accounts import demo

    settings: Settings = app.state.settings
    runtime = ChannelRuntime(
        settings,
        app.state.database,
        redis=app.state.redis,
        commit=app.state.broadcaster.commit,
        llm=get_gateway(app),
        # Without Redis the in-process queue is the only way to the processor: this process must consume.
        consume=settings.ingest.consume or app.state.redis is None,
        sweep_stale_after=settings.ingest.sweep_stale_seconds,
        sweep_interval=settings.ingest.sweep_interval_seconds,
    )
    app.state.channel = runtime
    app.state.gewe = runtime.gateway
    app.state.pacer = runtime.pacer
    async with AsyncExitStack() as stack:
        if settings.mode == "demo" and not settings.gewe.api_base:
            await stack.enter_async_context(demo.demo_channel(runtime))
        await runtime.start()
        stack.push_async_callback(runtime.stop)
        yield
