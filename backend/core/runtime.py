"""Process start-up shared by the CLI commands: database resolution, migrations, demo data."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from alembic import command
from sqlalchemy.engine import make_url

from backend.config import Settings
from backend.core.db import Database, alembic_config
from backend.core.embedded_pg import EmbeddedPostgres

EMBEDDED_DATABASE = "salesbot"
DEMO_ORGANIZATION = "演示公司 Demo Co."
DEMO_USERS = (
    ("admin", "admin", "系统管理员"),
    ("manager", "manager", "王经理"),
    ("sales", "sales", "李销售"),
    ("finance", "finance", "张财务"),
)


async def create_database_if_missing(server_url: str, name: str) -> None:
    """Create a database on the server at server_url unless it exists."""
    url = make_url(server_url)
    conn = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.query.get("host") or url.host,
        port=url.port,
        database="postgres",
    )
    try:
        if not await conn.fetchval("select 1 from pg_database where datname = $1", name):
            await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """Yield the configured DATABASE_URL, or start embedded PostgreSQL under the data dir for the duration."""
    if settings.database.url:
        yield settings.database.url
        return
    server = EmbeddedPostgres(settings.data_dir / "pg")
    server_url = server.start()
    try:
        asyncio.run(create_database_if_missing(server_url, EMBEDDED_DATABASE))
        settings.database.url = server.url(EMBEDDED_DATABASE)
        yield settings.database.url
    finally:
        server.stop()


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database to a revision (head by default)."""
    command.upgrade(alembic_config(url), revision)


def load_demo_logins(data_dir: Path) -> list[dict[str, str]]:
    """Demo logins kept in <data_dir>/demo-logins.json, generated on first use."""
    path = data_dir / "demo-logins.json"
    if path.exists():
        logins: list[dict[str, str]] = json.loads(path.read_text())
        return logins
    logins = [
        {
            "username": username,
            "password": f"{role}-{secrets.token_hex(4)}",
            "role": role,
            "display_name": name,
        }
        for username, role, name in DEMO_USERS
    ]
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(logins, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    return logins


async def ensure_demo_data(database: Database, logins: list[dict[str, str]]) -> None:
    """Create the demo organisation and one user per role, resetting their passwords to the stored ones."""
    from sqlalchemy import select

    from backend.auth.models import Role, User
    from backend.auth.service import create_user
    from backend.core.security import hash_password
    from backend.organizations.service import get_or_create
    from backend.sop.demo import ensure_demo_sop

    async with database.sessionmaker() as session:
        organization = await get_or_create(session, name=DEMO_ORGANIZATION)
        for login in logins:
            user = await session.scalar(select(User).where(User.username == login["username"]))
            if user is None:
                await create_user(
                    session,
                    organization_id=organization.id,
                    username=login["username"],
                    password=login["password"],
                    role=Role(login["role"]),
                    display_name=login.get("display_name", ""),
                )
            else:
                user.password_hash = hash_password(login["password"])
                user.is_active = True
        await session.flush()
        manager = await session.scalar(
            select(User).where(User.organization_id == organization.id, User.role == Role.manager).limit(1)
        )
        if manager is not None:
            await ensure_demo_sop(session, manager=manager)
        await session.commit()
