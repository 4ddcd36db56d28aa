"""The callback endpoint's two queries on a plain asyncpg pool: one round trip each, no ORM on the hot path."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

FIND_ACCOUNT = "select id, organization_id, app_id, wxid, callback_secret from accounts where callback_secret = $1"
INSERT_ENTRY = """
insert into ingest_inbox (organization_id, account_id, dedupe_key, kind, lane_key, raw, state, error)
values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict (account_id, dedupe_key) do nothing
returning id
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


class InboxRepository:
    """Account look-up by callback secret and inbox inserts (each its own implicit transaction)."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None

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
        """Store one callback; its id, or None when `(account, dedupe_key)` was already stored."""
        pool = await self._ready()
        try:
            entry_id: int | None = await pool.fetchval(
                INSERT_ENTRY, organization_id, account_id, dedupe_key, kind, lane_key, raw, state, error
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise AccountGone(str(account_id)) from exc
        return entry_id

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
