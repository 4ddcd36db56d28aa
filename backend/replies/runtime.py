"""Runs reply jobs in the background: one at a time per conversation, a bounded number at once."""

from __future__ import annotations

import asyncio
import logging
import uuid

from backend.conversations.service import ReplyJob
from backend.core.logs import conversation_id_var
from backend.replies import service
from backend.replies.service import ReplyDeps

logger = logging.getLogger(__name__)


class ReplyWorker:
    """Takes reply jobs from the ingest processor; a conversation's jobs run in order, newest lease wins."""

    def __init__(self, deps: ReplyDeps, *, concurrency: int = 16) -> None:
        self.deps = deps
        self._slots = asyncio.Semaphore(concurrency)
        self._queues: dict[uuid.UUID, list[ReplyJob]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def submit(self, job: ReplyJob) -> None:
        """Queue a job behind the conversation's running one (answers superseded by a newer one are skipped)."""
        if self._closed:
            return
        queue = self._queues.get(job.conversation_id)
        if queue is not None:
            queue.append(job)
            return
        self._queues[job.conversation_id] = [job]
        task = asyncio.create_task(self._drain(job.conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, conversation_id: uuid.UUID) -> None:
        conversation_id_var.set(str(conversation_id))  # this task's log lines name the conversation
        queue = self._queues[conversation_id]
        try:
            while queue:
                job = queue.pop(0)
                # Several customer messages that arrived while the AI was busy get one answer, to the last.
                if job.kind == "answer" and any(later.kind == "answer" for later in queue):
                    continue
                async with self._slots:
                    try:
                        await service.run(self.deps, job)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        logger.exception("AI reply for conversation %s failed", conversation_id)
        finally:
            self._queues.pop(conversation_id, None)

    async def wait_idle(self) -> None:
        """Wait until every queued job has run (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self, *, grace_seconds: float = 5.0) -> None:
        """Stop taking jobs, let running ones finish for a grace period, then cancel the rest."""
        self._closed = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_seconds)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
