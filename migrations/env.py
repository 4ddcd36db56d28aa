"""Alembic environment: async engine on the URL given by the CLI, tests or DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from backend.config import DatabaseSettings
from backend.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    """URL from the Alembic config (set by salesbot migrate / tests), else DATABASE_URL."""
    url = config.get_main_option("sqlalchemy.url") or DatabaseSettings().url
    if not url:
        raise SystemExit("no database URL: set DATABASE_URL or run `salesbot migrate` (starts embedded PostgreSQL)")
    return url


def run_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    """Run migrations on an async connection."""
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(run_online())
