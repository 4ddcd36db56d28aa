"""Periodic conversation upkeep: idle human conversations back to the AI, overdue handoffs escalated."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.conversations import service

logger = logging.getLogger(__name__)

CommitFn = Callable[[AsyncSession], Awaitable[None]]


class ConversationJanitor:
    """Runs `service.sweep` every `interval` seconds (SKIP LOCKED, so several instances may run it)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, commit: CommitFn, interval: float = 15.0
    ) -> None:
        self.sessionmaker = sessionmaker
        self.commit = commit
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> service.SweepResult:
        """One pass in its own transaction."""
        async with self.sessionmaker() as session:
            result = await service.sweep(session)
            await self.commit(session)
        return result

    async def start(self) -> None:
        """Sweep in the background."""
        if self._task is None and self.interval > 0:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep_once()
            except Exception:
                logger.exception("conversation sweep failed")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
