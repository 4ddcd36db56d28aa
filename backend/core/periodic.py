"""A background job run every few seconds, whose failures are logged and never stop it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from backend.core.tasks import cancel_and_wait

logger = logging.getLogger(__name__)


class Periodic:
    """Runs `job` every `interval` seconds until stopped (first at once when `immediately`); interval <= 0: never."""

    def __init__(
        self, job: Callable[[], Awaitable[object]], *, interval: float, name: str, immediately: bool = False
    ) -> None:
        self.job = job
        self.interval = interval
        self.name = name
        self.immediately = immediately
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (once)."""
        if self._task is None and self.interval > 0:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        if not self.immediately:
            await asyncio.sleep(self.interval)
        while True:
            try:
                await self.job()
            except Exception:
                logger.exception("%s failed", self.name)
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Cancel the loop and wait for it."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
