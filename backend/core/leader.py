"""Leader election across processes with a PostgreSQL session advisory lock."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.core.tasks import cancel_and_wait

logger = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class LeaderElection:
    """Holds `pg_try_advisory_lock(name)` on a dedicated connection; whoever holds it leads until its connection dies.

    A dead process closes its connection, which releases the lock, so another instance wins the next attempt.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        name: str,
        *,
        interval: float = 5.0,
        on_change: Callable[[bool], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.key = lock_key(name)
        self.interval = interval
        self.on_change = on_change
        self.is_leader = False
        self._connection: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start trying to lead (and checking the lock is still held) every `interval` seconds."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"leader:{self.name}")

    async def stop(self) -> None:
        """Stop, releasing the lock if held."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        await self._step_down()

    async def _run(self) -> None:
        while True:
            try:
                await self.attempt()
            except Exception:
                logger.exception("leader election %s failed; retrying", self.name)
                await self._step_down()
            await asyncio.sleep(self.interval)

    async def attempt(self) -> bool:
        """Take the lock when free, or check the held one is alive; returns whether this process leads."""
        if self._connection is None:
            connection = await self.engine.connect()
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            self._connection = connection
        if self.is_leader:
            await self._connection.execute(text("select 1"))
            return True
        won = await self._connection.scalar(text("select pg_try_advisory_lock(:key)"), {"key": self.key})
        if won:
            logger.info("this process now leads %s", self.name)
            await self._set(True)
        return bool(won)

    async def _step_down(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                if self.is_leader:
                    await connection.execute(text("select pg_advisory_unlock(:key)"), {"key": self.key})
            with contextlib.suppress(Exception):
                await connection.close()
        if self.is_leader:
            logger.info("this process no longer leads %s", self.name)
            await self._set(False)

    async def _set(self, leading: bool) -> None:
        self.is_leader = leading
        if self.on_change is not None:
            await self.on_change(leading)
