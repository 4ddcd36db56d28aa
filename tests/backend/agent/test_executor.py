"""Executor: the read-only role and read-only transaction stop writes even without the guard."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.agent.executor import QueryFailed, run_readonly

WRITES = [
    "UPDATE retail.orders SET amount = 0 WHERE id = 1",
    "DELETE FROM retail.order_items WHERE id = 1",
    "INSERT INTO retail.stores (id, name, city) VALUES (999, 'x', 'y')",
    "CREATE TABLE retail.evil (id int)",
    "TRUNCATE retail.orders",
]


@pytest.mark.parametrize("sql", WRITES)
async def test_write_is_refused_when_the_guard_is_skipped(retail_engine: AsyncEngine, sql: str) -> None:
    with pytest.raises(QueryFailed):
        await run_readonly(retail_engine, sql)
    async with retail_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM retail.orders")) == 40_000


async def test_write_is_refused_by_the_role_even_outside_a_read_only_transaction(retail_engine: AsyncEngine) -> None:
    async with retail_engine.connect() as conn:
        await conn.execute(text("SET ROLE salesbot_agent_ro"))
        try:
            with pytest.raises(Exception, match="permission denied"):
                await conn.execute(text("UPDATE retail.orders SET amount = 0 WHERE id = 1"))
        finally:
            await conn.rollback()
            await conn.execute(text("RESET ROLE"))


async def test_tables_outside_retail_are_not_readable(retail_engine: AsyncEngine) -> None:
    with pytest.raises(QueryFailed, match="permission denied"):
        await run_readonly(retail_engine, "SELECT count(*) FROM public.users")


async def test_statement_timeout_is_reported_as_final(retail_engine: AsyncEngine) -> None:
    with pytest.raises(QueryFailed) as failed:
        await run_readonly(retail_engine, "SELECT pg_sleep(2)", timeout_ms=100)
    assert failed.value.timeout


async def test_rows_come_back_as_json_values(retail_engine: AsyncEngine) -> None:
    result = await run_readonly(retail_engine, "SELECT id, name, city FROM retail.stores ORDER BY id LIMIT 3")
    assert result.columns == ["id", "name", "city"]
    assert [row["id"] for row in result.rows] == [1, 2, 3]
