"""Alembic migrations and the refusal to start on an unmigrated database."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backend.config import REPO_ROOT
from backend.core.db import DatabaseNotMigrated, alembic_config, ensure_migrated, head_revisions, locate_migrations


async def _tables_and_extensions(url: str) -> tuple[set[str], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            tables = set(
                (await conn.execute(text("select tablename from pg_tables where schemaname='public'"))).scalars()
            )
            extensions = set((await conn.execute(text("select extname from pg_extension"))).scalars())
        return tables, extensions
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade_on_an_empty_database(test_databases) -> None:
    url = test_databases.create("salesbot_migrations")
    config = alembic_config(url)
    command.upgrade(config, "head")
    tables, extensions = asyncio.run(_tables_and_extensions(url))
    assert {"organizations", "users", "refresh_tokens", "login_failures", "audit_events", "realtime_events"} <= tables
    assert "pg_trgm" in extensions
    command.downgrade(config, "base")
    tables, extensions = asyncio.run(_tables_and_extensions(url))
    assert tables == {"alembic_version"}
    assert "pg_trgm" not in extensions
    command.upgrade(config, "head")
    tables, _ = asyncio.run(_tables_and_extensions(url))
    assert "users" in tables


async def test_unmigrated_database_is_refused_with_a_clear_message(test_databases) -> None:
    url = await asyncio.to_thread(test_databases.create, "salesbot_empty")
    engine = create_async_engine(url)
    try:
        with pytest.raises(DatabaseNotMigrated, match=r"none \(empty database\).*salesbot migrate"):
            await ensure_migrated(engine)
    finally:
        await engine.dispose()


async def test_migrated_database_passes_the_check(db) -> None:
    await ensure_migrated(db.engine)


def test_a_checkout_finds_the_migrations_next_to_the_packages() -> None:
    assert locate_migrations() == REPO_ROOT / "migrations"


def test_an_installed_package_uses_the_migrations_shipped_inside_it(tmp_path: Path) -> None:
    # What `pip install .` leaves: site-packages/backend/migrations (setup.py), no migrations/ beside backend/.
    site_packages = tmp_path / "site-packages"
    shutil.copytree(REPO_ROOT / "migrations", site_packages / "backend" / "migrations")
    found = locate_migrations(site_packages / "backend", repo_root=site_packages)
    assert found == site_packages / "backend" / "migrations"
    assert head_revisions(found) == head_revisions()
