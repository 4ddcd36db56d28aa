"""Hand-off of accepted inbox rows to workers: in-process lanes or a Redis stream, plus the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import os
import socket
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.conversations.service import ReplyJob
from backend.core.db import CommitFn, in_sql_text, plain_commit, utcnow
from backend.core.metrics import INGEST_LAG
from backend.core.periodic import Periodic
from backend.core.tasks import cancel_and_wait
from backend.ingest import service
from backend.ingest.models import InboxEntry, InboxState

logger = logging.getLogger(__name__)

OfflineHook = Callable[[uuid.UUID], None]
ReplyHook = Callable[[ReplyJob], None]


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One inbox row to process and the key that orders it (the chat)."""

    entry_id: int
    lane_key: str


def lane_of(lane_key: str, lanes: int) -> int:
    """The worker lane of a chat: stable across processes, so one chat is always handled in order."""
    return zlib.crc32(lane_key.encode()) % lanes


ASYNC_COMMIT = text("set local synchronous_commit = off")


class Processor:
    """Processes inbox rows, one transaction each; failures are counted, never lost."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        commit: CommitFn = plain_commit,
        on_offline: OfflineHook | None = None,
        on_reply: ReplyHook | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.commit = commit
        self.on_offline = on_offline
        self.on_reply = on_reply
        self.max_attempts = max_attempts
        self._background: set[asyncio.Task[None]] = set()

    async def process(self, entry_id: int) -> service.ProcessResult | None:
        """Process one row, after any earlier unprocessed rows of its chat; None when one failed (recorded on it)."""
        while True:
            result = await self._process_one(entry_id)
            if result is None or not result.done or result.entry_id == entry_id:
                return result

    async def process_batch(self, entry_ids: list[int]) -> None:
        """Process rows together, set-based in one transaction; if that fails, one by one (the failure lands on its row)."""
        try:
            async with self.sessionmaker() as session:
                await session.execute(ASYNC_COMMIT)  # see _process_one
                batch = await service.process_entries(session, entry_ids=entry_ids)
                await self.commit(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("processing %d inbox rows together failed; one by one", len(entry_ids), exc_info=True)
            for entry_id in entry_ids:
                await self.process(entry_id)
            return
        for result in batch.applied:
            self._after(result)
        if batch.set_apart:
            # Rows of busy chats: apply them apart, the lane goes on.
            task = asyncio.create_task(self._process_each(batch.set_apart))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _process_each(self, entry_ids: list[int]) -> None:
        for entry_id in entry_ids:
            await self.process(entry_id)

    async def stop(self) -> None:
        """Cancel rows set apart by batches; they stay pending in the inbox for the sweeper."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def settle(self) -> None:
        """Wait for rows set apart by batches to be processed (tests and shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _process_one(self, entry_id: int) -> service.ProcessResult | None:
        try:
            async with self.sessionmaker() as session:
                # The inbox row was committed durably when the callback was accepted: losing this transaction
                # in a database crash only sends the row back to `accepted`, and the sweeper applies it again.
                # So it need not wait for its own WAL flush, the main cost of a commit under load. Anything
                # it triggers outside the database (a send) commits synchronously first, which flushes it too.
                await session.execute(ASYNC_COMMIT)
                result = await service.process_entry(session, entry_id=entry_id)
                await self.commit(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The row stays accepted (until max_attempts): the sweeper brings it and its chat's later rows back.
            logger.exception("processing inbox rows of %s failed", entry_id)
            async with self.sessionmaker() as session:
                await service.record_failure(
                    session, entry_id=entry_id, error=repr(exc), max_attempts=self.max_attempts
                )
                await session.commit()
            return None
        self._after(result)
        return result

    def _after(self, result: service.ProcessResult) -> None:
        """What follows a committed row: lag metric, reconnect on Offline, the AI's reply."""
        if result.accepted_at is not None:
            INGEST_LAG.observe((utcnow() - result.accepted_at).total_seconds())
        if result.went_offline and result.account_id and self.on_offline:
            self.on_offline(result.account_id)
        if result.reply_job is not None and self.on_reply:
            self.on_reply(result.reply_job)


class Dispatcher(Protocol):
    """Where the callback endpoint and the sweeper hand work."""

    async def submit(self, item: WorkItem) -> None:
        """Queue one inbox row for processing."""

    async def start(self) -> None:
        """Start consuming."""

    async def stop(self) -> None:
        """Stop consuming; unfinished work stays in the inbox for the sweeper."""


class IntakeGauge:
    """Callbacks this process accepts; processing on the same event loop lets a burst of them go first.

    A burst: `busy_at` or more callbacks being accepted at once, and until that has not happened for `quiet`
    seconds. Between waves of a burst the count drops to zero, and batches started in those gaps took the CPU the
    next wave needed. Rows wait out a burst, each at most `max_wait`; a lone message or a steady stream does not
    wait. Accepting is what GeWe waits for; processing comes a moment later. One process accepting and processing,
    3,000-callback bursts on two cores (2026-12-06, paired runs): 0.38-0.45x the bare endpoint's throughput when
    rows waited only while 4+ callbacks were in flight, 0.48-0.65x as now. With 4 as the threshold, requests that
    piled up behind a batch at a steady 500/s counted as bursts: callback -> message.new p99 went to 399 ms.
    """

    def __init__(self, *, busy_at: int = 8, quiet: float = 0.05, max_wait: float = 1.0) -> None:
        self.busy_at = busy_at
        self.quiet = quiet
        self.max_wait = max_wait
        self.in_flight = 0
        self.last_busy = -math.inf  # loop time intake was last busy

    @contextlib.contextmanager
    def accepting(self) -> Iterator[None]:
        """Count one callback in flight for the duration."""
        self.in_flight += 1
        try:
            yield
        finally:
            # While the count is at `busy_at` the waiters see it; what they need is when it dropped below.
            if self.in_flight >= self.busy_at:
                self.last_busy = asyncio.get_running_loop().time()
            self.in_flight -= 1

    async def wait_for_lull(self, *, queued_at: float) -> None:
        """Wait while intake is busy, until the row queued at `queued_at` (loop time) has waited `max_wait`."""
        loop = asyncio.get_running_loop()
        deadline = queued_at + self.max_wait
        while (now := loop.time()) < deadline:
            calm_from = self.last_busy + self.quiet
            if self.in_flight < self.busy_at and calm_from <= now:
                return
            # While the burst is in flight there is no end to wait for: look again after a short while.
            await asyncio.sleep(min(max(calm_from - now, 0.005), deadline - now))


class LocalDispatcher:
    """In-process lanes (asyncio queues); a chat always maps to the same lane, lanes run in parallel.

    Each lane processes what queued up meanwhile as one batch, every chat in it at once, and sets a chat whose
    conversation is busy apart, so one lane does not make chats wait for each other. One lane by default: on one
    event loop more lanes only split the work into smaller batches that cost more statements per message
    (2026-12-04, 500 msg/s, five interleaved pairs: p99 callback -> message.new 54-88 ms with 1 lane, 50-175 ms
    with 2; in-process intake 0.41-0.50x the bare endpoint with 1 lane, 0.21-0.31x with 2; 148 ms with 8 earlier).
    With an `intake` gauge, a lane lets the process's intake go first for a while (see IntakeGauge).
    """

    def __init__(
        self, processor: Processor, *, lanes: int = 1, max_batch: int = 64, intake: IntakeGauge | None = None
    ) -> None:
        self.processor = processor
        self.lanes = lanes
        self.max_batch = max_batch
        self.intake = intake
        # Each row with the loop time it was queued at: how long intake may still keep it waiting.
        self._queues: list[asyncio.Queue[tuple[int, float]]] = [asyncio.Queue() for _ in range(lanes)]
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, item: WorkItem) -> None:
        """Queue one inbox row on its chat's lane."""
        queued_at = asyncio.get_running_loop().time()
        self._queues[lane_of(item.lane_key, self.lanes)].put_nowait((item.entry_id, queued_at))

    async def start(self) -> None:
        """Start one worker task per lane."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run(queue)) for queue in self._queues]

    async def _run(self, queue: asyncio.Queue[tuple[int, float]]) -> None:
        while True:
            entry_id, queued_at = await queue.get()
            if self.intake is not None:
                await self.intake.wait_for_lull(queued_at=queued_at)
            # Whatever queued up while the last batch was processed goes in the next one.
            batch = [entry_id]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait()[0])
            try:
                await self.processor.process_batch(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def join(self) -> None:
        """Wait until every queued row was processed (tests and shutdown)."""
        for queue in self._queues:
            await queue.join()
        await self.processor.settle()

    async def stop(self) -> None:
        """Cancel the lane workers; queued rows are picked up again by the sweeper."""
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        await self.processor.stop()


class RedisStreamDispatcher:
    """One Redis stream per lane with a consumer group; pending entries of dead consumers are re-claimed.

    A consumer reads every lane at once and processes what it read as one batch (chats stay in order through the
    chat lock and earliest-row-first, whichever consumer gets which row). With an `intake` gauge, what it read
    waits while the process's intake is busy, at most the gauge's `max_wait` (see IntakeGauge).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        processor: Processor | None,
        *,
        lanes: int = 8,
        prefix: str = "salesbot:ingest",
        group: str = "ingest",
        consumer: str | None = None,
        claim_idle_ms: int = 30_000,
        batch: int = 32,
        block_ms: int = 1000,
        maxlen: int = 1_000_000,
        max_process_batch: int = 256,
        intake: IntakeGauge | None = None,
    ) -> None:
        self.redis = redis
        self.processor = processor
        self.lanes = lanes
        self.prefix = prefix
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.claim_idle_ms = claim_idle_ms
        self.batch = batch
        self.block_ms = block_ms
        self.maxlen = maxlen
        self.max_process_batch = max_process_batch
        self.intake = intake
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox: list[int] = []
        self._flusher: asyncio.Task[None] | None = None
        self._next_lane = 0

    def stream(self, lane: int) -> str:
        """The stream key of a lane."""
        return f"{self.prefix}:lane:{lane}"

    async def submit(self, item: WorkItem) -> None:
        """Queue one inbox row for a lane stream and return at once; rows queued meanwhile share one stream entry.

        The row is stored already, so the callback is answered without waiting for Redis: a row whose entry could
        not be written is dispatched by the sweeper later.
        """
        self._outbox.append(item.entry_id)
        if self._flusher is None or self._flusher.done():
            # A fresh context: the flusher's log lines are not the request's that happened to start it.
            self._flusher = asyncio.create_task(self._flush_outbox(), context=contextvars.Context())

    async def flush(self) -> None:
        """Wait until every queued row has been written to a stream (or its write has failed)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _flush_outbox(self) -> None:
        # One stream entry for every row accepted while the previous XADD was on its way: under load a callback
        # costs a share of a command instead of a command of its own. Consumers read every lane (chats keep their
        # order through the chat lock), so entries go to the lanes in turn.
        while self._outbox:
            entry_ids, self._outbox = self._outbox, []
            lane, self._next_lane = self._next_lane, (self._next_lane + 1) % self.lanes
            try:
                await self.redis.xadd(
                    self.stream(lane), {"ids": ",".join(map(str, entry_ids))}, maxlen=self.maxlen, approximate=True
                )
            except Exception:
                logger.exception(
                    "writing %d inbox rows to the ingest stream failed; the sweeper dispatches them", len(entry_ids)
                )

    async def ensure_groups(self) -> None:
        """Create the consumer group of every lane stream (idempotent)."""
        for lane in range(self.lanes):
            await self._ensure_group(self.stream(lane))

    async def _ensure_group(self, stream: str) -> None:
        try:
            await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def start(self) -> None:
        """Start consuming (needs a processor)."""
        if self.processor is None:
            raise RuntimeError("a submit-only RedisStreamDispatcher cannot consume")
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run())]

    async def _handle(self, read: list[tuple[str, list[tuple[str, dict[str, str]]]]]) -> None:
        """Process what was read from the lane streams as one batch, then acknowledge it."""
        assert self.processor is not None
        entry_ids = [int(entry_id) for _, entries in read for _, fields in entries for entry_id in _entry_ids(fields)]
        if self.intake is not None:
            await self.intake.wait_for_lull(queued_at=asyncio.get_running_loop().time())
        for start in range(0, len(entry_ids), self.max_process_batch):
            await self.processor.process_batch(entry_ids[start : start + self.max_process_batch])
        pipeline = self.redis.pipeline(transaction=False)
        for stream, entries in read:
            pipeline.xack(stream, self.group, *(message_id for message_id, _ in entries))
        await pipeline.execute()

    async def _claim(self, streams: list[str]) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
        """Entries of the lane streams that a consumer read and did not acknowledge within the idle time."""
        pipeline = self.redis.pipeline(transaction=False)
        for stream in streams:
            pipeline.xautoclaim(stream, self.group, self.consumer, self.claim_idle_ms, start_id="0-0", count=self.batch)
        replies: list[Any] = await pipeline.execute()
        return [(stream, _decode(reply[1])) for stream, reply in zip(streams, replies, strict=True) if reply[1]]

    async def _run(self) -> None:
        # Every lane in one read and one batch: a batch per lane would cost each lane the fixed price of a
        # transaction. Several processes share the entries through the consumer group.
        streams = [self.stream(lane) for lane in range(self.lanes)]
        groups_ready = False
        claim_due = 0.0
        while True:
            try:
                if not groups_ready:
                    # Here rather than in start(): Redis being down must not stop the app from starting.
                    await self.ensure_groups()
                    groups_ready = True
                # Entries a dead consumer read but never acknowledged come first. Looked for twice per idle time
                # (not before every read: under load that would be one more round trip per batch).
                if time.monotonic() >= claim_due:
                    claimed = await self._claim(streams)
                    if claimed:
                        await self._handle(claimed)
                        continue
                    claim_due = time.monotonic() + self.claim_idle_ms / 2000
                response: Any = await self.redis.xreadgroup(
                    self.group, self.consumer, dict.fromkeys(streams, ">"), count=self.batch, block=self.block_ms
                )
                if response:
                    await self._handle([(_text(stream), _decode(entries)) for stream, entries in response])
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("ingest consumer failed; retrying")
                # A restarted Redis without persistence lost the streams and their group: create them again.
                groups_ready = False
                await asyncio.sleep(1.0)

    async def stop(self, *, grace_seconds: float = 5.0) -> None:
        """Write what is queued, cancel the consumers; what they read but did not acknowledge is re-claimed later."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), grace_seconds)
        for task in self._tasks:
            task.cancel()
        # A consumer cancelled inside a blocking XREADGROUP has been seen never to finish cancelling (redis-py):
        # shutdown must not hang on it; its unacknowledged entries are re-claimed like a dead consumer's.
        _, stuck = await asyncio.wait(self._tasks, timeout=grace_seconds) if self._tasks else (set(), set())
        if stuck:
            logger.warning("%d ingest consumers did not stop within %.0f s; abandoned", len(stuck), grace_seconds)
        self._tasks = []
        if self.processor is not None:
            await self.processor.stop()


def _entry_ids(fields: dict[str, str]) -> list[str]:
    """The inbox row ids of one stream entry: `ids` (comma-separated), or `id` as written before batching."""
    if fields.get("ids"):
        return fields["ids"].split(",")
    return [fields["id"]] if fields.get("id") else []


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(
    entries: list[tuple[str | bytes, dict[str | bytes, str | bytes] | None]],
) -> list[tuple[str, dict[str, str]]]:
    return [
        (_text(message_id), {_text(k): _text(v) for k, v in (fields or {}).items()}) for message_id, fields in entries
    ]


class Sweeper:
    """Re-dispatches inbox rows accepted but not processed after `stale_after` seconds (crash, lost queue)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: Dispatcher,
        *,
        stale_after: float = 30.0,
        interval: float = 10.0,
        batch: int = 1000,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.dispatcher = dispatcher
        self.stale_after = stale_after
        self.interval = interval
        self.batch = batch
        self._loop = Periodic(self.drain, interval=interval, name="ingest sweep", immediately=True)

    async def sweep(self) -> int:
        """Re-dispatch one batch of stale rows; returns how many."""
        cutoff = utcnow() - timedelta(seconds=self.stale_after)
        async with self.sessionmaker() as session:
            stale = (
                select(InboxEntry.id)
                .where(
                    InboxEntry.state == in_sql_text(InboxState.accepted),
                    InboxEntry.accepted_at < cutoff,
                    or_(InboxEntry.dispatched_at.is_(None), InboxEntry.dispatched_at < cutoff),
                )
                .order_by(InboxEntry.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            rows = (
                await session.execute(
                    update(InboxEntry)
                    .where(InboxEntry.id.in_(stale.scalar_subquery()))
                    .values(dispatched_at=utcnow())
                    .returning(InboxEntry.id, InboxEntry.lane_key)
                )
            ).all()
            await session.commit()
        for entry_id, lane_key in sorted(rows):
            await self.dispatcher.submit(WorkItem(entry_id, lane_key))
        if rows:
            logger.warning("sweeper re-dispatched %d unprocessed callbacks", len(rows))
        return len(rows)

    async def drain(self) -> None:
        """Sweep batch after batch until a batch comes back short."""
        while await self.sweep() >= self.batch:
            pass

    async def start(self) -> None:
        """Sweep every `interval` seconds in the background."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop sweeping."""
        await self._loop.stop()
