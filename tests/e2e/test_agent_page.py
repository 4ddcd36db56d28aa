"""Browser test of the store agent page on a seeded demo world: report, diagnosis, plan, publish, debug."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from backend.config import Settings
from backend.core.db import Database
from backend.core.runtime import DEMO_ORGANIZATION, ensure_demo_data, migrate
from tests.e2e.test_console_smoke import SCREENSHOTS, run_browser_script
from tests.fixtures import db as db_fixtures
from tests.fixtures.db import LiveServer, serve_app

# A small world keeps the test well under a minute: members scale down to their floor (3,000) and the
# planted stories (the repeat-rate drop, store 3's payments) still hold.
ORDERS = 6000
CLI_LIMIT = 120  # seconds one `salesbot` command may take
SALESBOT = Path(sys.executable).with_name("salesbot")


@dataclass
class DemoWorld:
    """A server on its own database: demo organisation and manager, retail data, starter knowledge base."""

    server: LiveServer
    database: Database
    username: str
    password: str


async def salesbot(*args: str, database_url: str, data_dir: Path) -> str:
    """Run a `salesbot` command against the world's database as an operator would; its output."""
    process = await asyncio.create_subprocess_exec(
        str(SALESBOT),
        *args,
        env={**os.environ, "DATABASE_URL": database_url, "SALESBOT_DATA_DIR": str(data_dir), "COLUMNS": "120"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=CLI_LIMIT)
    log = output.decode(errors="replace")
    assert process.returncode == 0, f"salesbot {' '.join(args)} failed:\n{log}"
    return log


@pytest.fixture
async def demo_world(
    test_databases: db_fixtures.TestDatabases, settings: Settings, tmp_path: Path
) -> AsyncIterator[DemoWorld]:
    """Its own migrated database (the retail seed replaces the shared one's), seeded like the demo."""
    url = await asyncio.to_thread(test_databases.create, "salesbot_agent_e2e")
    await asyncio.to_thread(migrate, url)
    seeded = await salesbot("seed", "retail", "--orders", str(ORDERS), database_url=url, data_dir=tmp_path)
    assert f"orders {ORDERS}" in seeded, seeded
    await salesbot("kb", "load", database_url=url, data_dir=tmp_path)
    database = Database(url)
    username, password = "e2e-manager", "manager-" + secrets.token_hex(6)
    await ensure_demo_data(database, [{"username": username, "password": password, "role": "manager"}])
    world_settings = settings.model_copy(deep=True)
    world_settings.database.url = url
    try:
        async with serve_app(world_settings) as server:
            yield DemoWorld(server, database, username, password)
    finally:
        await database.dispose()


@pytest.mark.browser
async def test_manager_asks_the_three_samples_publishes_the_coupon_and_sees_the_sql(demo_world: DemoWorld) -> None:
    code, log = await run_browser_script(
        "src/agent/e2e/agent-page.mjs",
        base_url=demo_world.server.url,
        username=demo_world.username,
        password=demo_world.password,
        env={
            "SCREENSHOT": str(SCREENSHOTS / "agent-page-failure.png"),
            "E2E_SCREENSHOT": str(SCREENSHOTS / "agent-page.png"),
        },
    )
    assert code == 0, log
    assert "agent-page: all" in log, log
    async with demo_world.database.engine.connect() as conn:
        coupons = (await conn.execute(text("SELECT status FROM retail.coupons"))).scalars().all()
        organization = await conn.scalar(text("SELECT name FROM organizations"))
    assert coupons == ["published"], log
    assert organization == DEMO_ORGANIZATION
