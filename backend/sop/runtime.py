"""The SOP engine of one process: dispatch lanes everywhere, periodic planning on the elected leader only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI
from sqlalchemy import select

from backend.accounts.gewe import GeweGateway
from backend.config import SopSettings
from backend.core.db import CommitFn, Database, plain_commit, utcnow
from backend.core.leader import LeaderElection
from backend.llm.gateway import LLMGateway
from backend.messages.service import ChannelPacer
from backend.sop.dispatcher import Clock, SopDispatcher
from backend.sop.models import Sop, SopStep
from backend.sop.planner import complete_finished, plan, release_expired_claims
from backend.sop.service import publish_progress

logger = logging.getLogger(__name__)
LEADER_LOCK = "salesbot:sop-scheduler"


class SopRuntime:
    """Dispatcher lanes plus an APScheduler tick that only the advisory-lock leader runs."""

    def __init__(
        self,
        settings: SopSettings,
        database: Database,
        *,
        gateway: GeweGateway,
        pacer: ChannelPacer,
        commit: CommitFn = plain_commit,
        llm: LLMGateway | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.sessionmaker = database.sessionmaker
        self.commit = commit
        self.clock = clock
        self.dispatcher = SopDispatcher(
            database.sessionmaker, gateway=gateway, pacer=pacer, settings=settings, commit=commit, llm=llm, clock=clock
        )
        self.leader = LeaderElection(
            database.engine, LEADER_LOCK, interval=settings.leader_retry_seconds, on_change=self._on_leadership
        )
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_job(
            self.leader_tick,
            "interval",
            seconds=settings.tick_seconds,
            id="sop-leader-tick",
            coalesce=True,
            max_instances=1,
            next_run_time=utcnow(),
        )

    async def start(self) -> None:
        """Start dispatching, and compete for leadership of the periodic tick."""
        self.scheduler.start(paused=True)
        self.leader.start()
        self.dispatcher.start()

    async def stop(self) -> None:
        """Stop claiming, let sends under way finish, give up leadership."""
        await self.dispatcher.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.leader.stop()

    async def _on_leadership(self, leading: bool) -> None:
        if not self.scheduler.running:
            return
        if leading:
            self.scheduler.resume()
        else:
            self.scheduler.pause()

    async def leader_tick(self) -> None:
        """Hand back stale claims, plan dynamic and recurring SOPs ahead, complete finished ones, publish progress."""
        now = self.clock()
        async with self.sessionmaker() as session:
            released = await release_expired_claims(
                session,
                now=now,
                echo_grace=timedelta(seconds=self.settings.echo_grace_seconds),
                max_attempts=self.settings.max_attempts,
                retry_delay=timedelta(seconds=self.settings.retry_base_seconds),
            )
            await session.commit()
        if released:
            logger.info("handed back %d SOP deliveries of stopped workers", released)
        recurring = select(SopStep.sop_id).where(SopStep.timing["kind"].astext == "cron")
        async with self.sessionmaker() as session:
            to_plan = list(
                await session.scalars(
                    select(Sop.id).where(Sop.status == "running", Sop.dynamic.is_(True) | Sop.id.in_(recurring))
                )
            )
        for sop_id in to_plan:
            async with self.sessionmaker() as session:
                sop = await session.scalar(select(Sop).where(Sop.id == sop_id).with_for_update(skip_locked=True))
                if sop is None or sop.status != "running":
                    continue
                await plan(session, sop=sop, now=now, horizon=timedelta(hours=self.settings.horizon_hours))
                await session.commit()
        async with self.sessionmaker() as session:
            completed = await complete_finished(session, now=now)
            for sop in await session.scalars(select(Sop).where((Sop.status == "running") | Sop.id.in_(completed))):
                await publish_progress(session, sop=sop)
            await self.commit(session)


@asynccontextmanager
async def sop_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the SOP engine in the app process unless SOP_DISPATCH is off (a `salesbot worker` runs it)."""
    from backend.llm.factory import get_gateway

    settings = app.state.settings
    if not settings.sop.dispatch:
        yield
        return
    channel = app.state.channel
    runtime = SopRuntime(
        settings.sop,
        app.state.database,
        gateway=channel.gateway,
        pacer=channel.pacer,
        commit=app.state.broadcaster.commit,
        llm=get_gateway(app),
    )
    app.state.sop = runtime
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()
