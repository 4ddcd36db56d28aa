"""Async SQLAlchemy engine, sessions, the declarative base and the migration check."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import BindParameter, DateTime, MetaData, String, literal, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.config import REPO_ROOT, DatabaseSettings

# How a service's caller commits: plainly, or through the realtime broadcaster that publishes the session's events.
CommitFn = Callable[[AsyncSession], Awaitable[None]]


async def plain_commit(session: AsyncSession) -> None:
    """Commit the session; the default CommitFn where no events need publishing."""
    await session.commit()


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
BACKEND_DIR = Path(__file__).resolve().parent.parent


def locate_migrations(package_dir: Path = BACKEND_DIR, repo_root: Path = REPO_ROOT) -> Path:
    """The Alembic migrations: shipped in the package (wheel install, see setup.py), else the checkout's."""
    packaged = package_dir / "migrations"
    return packaged if (packaged / "env.py").is_file() else repo_root / "migrations"


MIGRATIONS_DIR = locate_migrations()
INT_MAX = 2**31 - 1  # largest value an INTEGER column holds: bound request integers stored in one
BIGINT_MAX = 2**63 - 1  # largest BIGINT (integer ids): bound request ids looked up in one


def utcnow() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(UTC)


def in_sql_text(value: str) -> BindParameter[str]:
    """`value` written into the statement's text, not bound: what a query on a partial index compares its column to.

    Statements are prepared, and after five runs PostgreSQL may keep a generic plan built without the bound
    values; that plan can only use a partial index (`where state = 'accepted'`) whose condition it reads in the
    text. With a bound value it walks every row of the table's other index instead, slower as the table grows.
    """
    return literal(str(value), String(), literal_execute=True)


class Base(DeclarativeBase):
    """Declarative base of every ORM model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class UUIDPrimaryKey:
    """Mixin: a UUID primary key generated in Python."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class CreatedAt:
    """Mixin: creation timestamp."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class Database:
    """One engine and session factory per process."""

    def __init__(self, url: str, settings: DatabaseSettings | None = None) -> None:
        settings = settings or DatabaseSettings()
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            echo=settings.echo,
            pool_pre_ping=True,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session that the caller commits; rolled back if left uncommitted."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration for the project's migrations (the checkout's alembic.ini when there is one)."""
    ini = MIGRATIONS_DIR.parent / "alembic.ini"  # a checkout's; a wheel ships none (and needs none)
    config = Config(str(ini)) if ini.is_file() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revisions(migrations_dir: Path = MIGRATIONS_DIR) -> set[str]:
    """Revisions the code expects the database to be at."""
    config = alembic_config()
    config.set_main_option("script_location", str(migrations_dir))
    return set(ScriptDirectory.from_config(config).get_heads())


class DatabaseNotMigrated(RuntimeError):
    """The database schema is behind (or ahead of) the code."""


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Raise DatabaseNotMigrated with a clear message unless the database is at the code's head."""
    expected = head_revisions()
    async with engine.connect() as conn:
        exists = await conn.scalar(text("select to_regclass('public.alembic_version') is not null"))
        current = (
            set((await conn.execute(text("select version_num from alembic_version"))).scalars()) if exists else set()
        )
    if current != expected:
        found = ", ".join(sorted(current)) or "none (empty database)"
        raise DatabaseNotMigrated(
            f"database schema is at revision {found} but the code needs {', '.join(sorted(expected))}: "
            "run `salesbot migrate` first"
        )
