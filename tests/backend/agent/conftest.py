"""Agent fixtures: retail data seeded once per run (fixed seed) and the starter knowledge base."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.agent import kb
from backend.agent.embedder import get_embedder
from backend.agent.seed import seed_retail
from tests.fixtures.llm_stub import llm_stub, make_gateway

__all__ = ["llm_stub", "make_gateway"]


@pytest.fixture(scope="session")
async def retail_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database whose retail schema holds the default seed (read-only for tests)."""
    engine = create_async_engine(database_url)
    await seed_retail(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def starter_kb(retail_engine: AsyncEngine) -> AsyncEngine:
    """The starter knowledge base loaded into the test database."""
    await kb.load_documents(retail_engine, get_embedder(), kb.read_directory(kb.STARTER_DIR))
    return retail_engine


@pytest.fixture
async def clean_actions(retail_engine: AsyncEngine) -> AsyncIterator[None]:
    """Remove coupons, campaigns and action logs a test created."""
    yield
    async with retail_engine.begin() as conn:
        await conn.execute(text("TRUNCATE retail.action_logs, retail.campaigns, retail.coupons RESTART IDENTITY"))
