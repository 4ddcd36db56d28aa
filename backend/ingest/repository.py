"""The callback endpoint's two queries on a plain asyncpg pool, no ORM on the hot path; inserts are group-committed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
from sqlalchemy.engine import make_url

FIND_ACCOUNT = "select id, organization_id, app_id, wxid, callback_secret from accounts where callback_secret = $1"
INSERT_ENTRY = """
insert into ingest_inbox (organization_id, account_id, dedupe_key, kind, lane_key, raw, state, error)
values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict (account_id, dedupe_key) do nothing
returning id
"""
# Rows are inserted in array order, so ids follow arrival order (the dispatcher orders a chat by id).
INSERT_ENTRIES = """
insert into ingest_inbox (organization_id, account_id, dedupe_key, kind, lane_key, raw, state, error)
select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
on conflict (account_id, dedupe_key) do nothing
returning id, account_id, dedupe_key
"""


class AccountGone(Exception):
    """The account of a cached callback secret was deleted."""


def asyncpg_connect_args(url: str) -> dict[str, Any]:
    """asyncpg connection arguments for a SQLAlchemy PostgreSQL URL (Unix socket dirs included)."""
    parsed = make_url(url)
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": parsed.query.get("host") or parsed.host,
        "port": parsed.port,
        "database": parsed.database,
    }


async def _no_reset(connection: asyncpg.Connection) -> None:
    return None


@dataclass(slots=True)
class _PendingInsert:
    row: tuple[Any, ...]
    done: asyncio.Future[int | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _settle(pending: _PendingInsert, *, result: int | None = None, error: BaseException | None = None) -> None:
    # The caller may have gone (client disconnected): its row is written all the same.
    if pending.done.done():
        return
    if error is not None:
        pending.done.set_exception(error)
    else:
        pending.done.set_result(result)


class InboxRepository:
    """Account look-up by callback secret and inbox inserts.

    Inserts are group-committed: callbacks arriving while a batch is being written go into the next batch,
    one multi-row INSERT and one commit (one WAL flush) for all of them. Each caller still waits for its
    own row to be committed, so an answered callback is always stored; an idle system writes at once.
    """

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, max_batch: int = 256, writers: int = 2
    ) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self.max_batch = max_batch
        self.writers = writers
        self._pool: asyncpg.Pool | None = None
        self._queue: list[_PendingInsert] = []
        self._writer_tasks: set[asyncio.Task[None]] = set()

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            # No session state is ever set on these connections: skip the reset round trip on release.
            self._pool = await asyncpg.create_pool(
                min_size=self.min_size, max_size=self.max_size, reset=_no_reset, **asyncpg_connect_args(self.url)
            )
        return self._pool

    async def find_account(self, secret: str) -> asyncpg.Record | None:
        """The account row owning a callback secret."""
        pool = await self._ready()
        row: asyncpg.Record | None = await pool.fetchrow(FIND_ACCOUNT, secret)
        return row

    async def insert(
        self,
        *,
        organization_id: uuid.UUID,
        account_id: uuid.UUID,
        dedupe_key: str,
        kind: str,
        lane_key: str,
        raw: str,
        state: str,
        error: str | None = None,
    ) -> int | None:
        """Store one callback once committed; its id, or None when `(account, dedupe_key)` was already stored."""
        pending = _PendingInsert((organization_id, account_id, dedupe_key, kind, lane_key, raw, state, error))
        self._queue.append(pending)
        if len(self._writer_tasks) < self.writers:
            task = asyncio.create_task(self._write_batches())
            self._writer_tasks.add(task)
            task.add_done_callback(self._writer_tasks.discard)
        return await pending.done

    async def _write_batches(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    await self._write(batch)
                except Exception as exc:
                    for pending in batch:
                        _settle(pending, error=exc)
                except BaseException:
                    for pending in batch:
                        _settle(pending, error=asyncio.CancelledError())
                    raise
        finally:
            # Leave the set in the same step that found the queue empty. The task's done callbacks run a step
            # later, and a caller resumed by the last batch could queue its next row in between: seeing this writer
            # still counted, it started none, and the row waited for the next callback to come along.
            self._writer_tasks.discard(cast("asyncio.Task[None]", asyncio.current_task()))

    async def _write(self, batch: list[_PendingInsert]) -> None:
        pool = await self._ready()
        if len(batch) > 1:
            columns = [list(column) for column in zip(*(pending.row for pending in batch), strict=True)]
            try:
                rows = await pool.fetch(INSERT_ENTRIES, *columns)
            except asyncpg.ForeignKeyViolationError:
                pass  # one row's account is gone: write them one by one so only that row fails
            else:
                inserted = {(row["account_id"], row["dedupe_key"]): row["id"] for row in rows}
                for pending in batch:
                    # A key twice in one batch was inserted once: the first caller gets the id.
                    _settle(pending, result=inserted.pop((pending.row[1], pending.row[2]), None))
                return
        for pending in batch:
            try:
                _settle(pending, result=await pool.fetchval(INSERT_ENTRY, *pending.row))
            except asyncpg.ForeignKeyViolationError:
                _settle(pending, error=AccountGone(str(pending.row[1])))

    async def close(self) -> None:
        """Finish pending writes and close the pool."""
        if self._writer_tasks:
            await asyncio.gather(*self._writer_tasks, return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
