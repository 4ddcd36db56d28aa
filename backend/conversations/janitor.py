"""Periodic conversation upkeep: idle human conversations back to the AI, overdue handoffs escalated."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.conversations import service
from backend.core.db import CommitFn
from backend.core.periodic import Periodic


class ConversationJanitor:
    """Runs `service.sweep` every `interval` seconds (SKIP LOCKED, so several instances may run it)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, commit: CommitFn, interval: float = 15.0
    ) -> None:
        self.sessionmaker = sessionmaker
        self.commit = commit
        self._loop = Periodic(self.sweep_once, interval=interval, name="conversation sweep")

    async def sweep_once(self) -> service.SweepResult:
        """One pass in its own transaction."""
        async with self.sessionmaker() as session:
            result = await service.sweep(session)
            await self.commit(session)
        return result

    async def start(self) -> None:
        """Sweep in the background."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop sweeping."""
        await self._loop.stop()
