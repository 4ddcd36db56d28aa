"""Pruning of handled callbacks and old console events, so neither table grows without bound."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.config import RetentionSettings
from backend.core.db import CommitFn, utcnow
from backend.core.leader import lock_key
from backend.core.metrics import PRUNED_ROWS
from backend.core.periodic import Periodic
from backend.ingest import service as ingest
from backend.realtime import service as realtime

logger = logging.getLogger(__name__)

RETENTION_LOCK = lock_key("salesbot:retention")
PruneBatch = Callable[[AsyncSession, int], Awaitable[int]]


@dataclass
class PruneResult:
    """Rows deleted by one pass, per table; `skipped` when another process was pruning."""

    deleted: dict[str, int] = field(default_factory=dict)
    skipped: bool = False


class Retention:
    """Deletes what `RetentionSettings` no longer keeps, one batch per short transaction, one process at a time."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: RetentionSettings, *, commit: CommitFn
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.commit = commit
        self._loop = Periodic(self.prune, interval=settings.interval_seconds, name="retention", immediately=True)

    def _batches(self) -> dict[str, PruneBatch]:
        now = utcnow()
        batches: dict[str, PruneBatch] = {}
        if self.settings.inbox_days > 0:
            inbox_cutoff = now - timedelta(days=self.settings.inbox_days)
            batches["ingest_inbox"] = lambda session, limit: ingest.prune_inbox(
                session, accepted_before=inbox_cutoff, limit=limit
            )
        if self.settings.events_days > 0:
            events_cutoff = now - timedelta(days=self.settings.events_days)
            batches["realtime_events"] = lambda session, limit: realtime.prune_events(
                session, created_before=events_cutoff, limit=limit
            )
        return batches

    async def prune(self) -> PruneResult:
        """Delete batches until nothing past its keep time is left."""
        result = PruneResult()
        for table, prune_batch in self._batches().items():
            deleted = self.settings.batch
            while deleted == self.settings.batch:
                async with self.sessionmaker() as session:
                    # Transaction-scoped: processes pruning at once would only fight over the same rows.
                    if not await session.scalar(select(func.pg_try_advisory_xact_lock(RETENTION_LOCK))):
                        result.skipped = True
                        return result
                    deleted = await prune_batch(session, self.settings.batch)
                    await self.commit(session)
                result.deleted[table] = result.deleted.get(table, 0) + deleted
                PRUNED_ROWS.labels(table).inc(deleted)
        if any(result.deleted.values()):
            logger.info("pruned old records", extra={"deleted": result.deleted})
        return result

    async def start(self) -> None:
        """Prune in the background every `interval_seconds`."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop pruning."""
        await self._loop.stop()
