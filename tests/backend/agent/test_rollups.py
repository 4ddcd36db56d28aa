"""Rollups: the semantic layer reads them only while fresh, and they give exactly the base tables' numbers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.agent.executor import run_readonly
from backend.agent.rollups import NO_ROLLUPS, RollupStatus, data_state, refresh_rollups
from backend.agent.seed import seed_retail
from backend.agent.semantic import QuerySpec, compile_query
from backend.agent.sql_guard import guard_sql
from backend.core.runtime import migrate

FRESH = RollupStatus(sales=True, coupons=True, refreshed_at=datetime.now(UTC))
ORDER_METRICS = ["gmv", "orders", "aov", "pay_success_rate", "discount_rate"]
COUPON_METRICS = ["coupons_issued", "coupons_redeemed", "coupon_redemption_rate"]
SPECS = [
    (metrics, dimensions, range_text, compare)
    for metrics in (ORDER_METRICS, COUPON_METRICS, ["gmv", "coupon_redemption_rate"])
    for dimensions in ([], ["day", "store"], ["week"], ["city"], ["member_level"], ["channel"])
    for range_text, compare in (("最近7天", None), ("最近30天", "环比"), ("上月", "同比"))
    if not (dimensions == ["channel"] and metrics != ORDER_METRICS)
]


async def rows_of(engine: AsyncEngine, spec: QuerySpec, anchor, rollups: RollupStatus) -> tuple[list[str], list]:
    compiled = compile_query(spec, anchor, rollups=rollups)
    result = await run_readonly(engine, guard_sql(compiled.sql, max_rows=5000).sql, max_rows=5000)
    return compiled.sources, result.rows


@pytest.mark.parametrize(("metrics", "dimensions", "range_text", "compare"), SPECS)
async def test_rollup_numbers_equal_base_table_numbers(
    retail_engine: AsyncEngine, metrics: list[str], dimensions: list[str], range_text: str, compare
) -> None:
    anchor = (await data_state(retail_engine)).anchor
    spec = QuerySpec(metrics, dimensions, range_text, compare)
    base_sources, base = await rows_of(retail_engine, spec, anchor, NO_ROLLUPS)
    rollup_sources, rolled = await rows_of(retail_engine, spec, anchor, FRESH)
    assert not any("daily" in s for s in base_sources)
    assert all("daily" in s for s in rollup_sources)
    assert base, "the seeded data must have rows for this spec"
    assert rolled == base


async def test_seeded_rollups_are_fresh(retail_engine: AsyncEngine) -> None:
    state = await data_state(retail_engine)
    assert (state.rollups.sales, state.rollups.coupons) == (True, True)


async def test_rollup_totals_match_the_orders_table(retail_engine: AsyncEngine) -> None:
    async with retail_engine.connect() as conn:
        rollup = (
            await conn.execute(text("SELECT sum(orders), sum(paid_orders), sum(gmv) FROM retail.daily_store_sales"))
        ).one()
        base = (
            await conn.execute(
                text(
                    "SELECT count(*), count(*) FILTER (WHERE pay_status = 1), "
                    "sum(amount) FILTER (WHERE pay_status = 1) FROM retail.orders"
                )
            )
        ).one()
    assert tuple(rollup) == tuple(base)


@pytest.fixture(scope="module")
async def small_world(test_databases) -> AsyncIterator[AsyncEngine]:
    """A database of its own (the tests below add orders) with a small seed."""
    url = await asyncio.to_thread(test_databases.create, "salesbot_rollups")
    await asyncio.to_thread(migrate, url)
    engine = create_async_engine(url)
    await seed_retail(engine, orders=2_000)
    yield engine
    await engine.dispose()


async def _add_order(engine: AsyncEngine, paid_at: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO retail.orders (store_id, member_id, paid_at, pay_status, channel, amount, original_amount) "
                "VALUES (1, NULL, :paid_at, 1, 'offline', 10, 10)"
            ),
            {"paid_at": paid_at},
        )


async def test_an_order_newer_than_the_rollup_makes_it_stale_and_reports_use_the_base_tables(
    small_world: AsyncEngine,
) -> None:
    latest = await _latest(small_world)
    await _add_order(small_world, latest + timedelta(seconds=1))
    state = await data_state(small_world)
    assert state.rollups.sales is False
    compiled = compile_query(QuerySpec(["gmv"], ["store"]), state.anchor, rollups=state.rollups)
    assert compiled.sources == ["retail.orders"]


async def test_refreshing_makes_a_stale_rollup_fresh_with_the_new_order(small_world: AsyncEngine) -> None:
    await _add_order(small_world, await _latest(small_world) + timedelta(seconds=1))
    await refresh_rollups(small_world)
    state = await data_state(small_world)
    assert state.rollups.sales is True
    spec = QuerySpec(["gmv", "orders"], ["day"], "最近7天")
    _, base = await rows_of(small_world, spec, state.anchor, NO_ROLLUPS)
    _, rolled = await rows_of(small_world, spec, state.anchor, state.rollups)
    assert rolled == base


async def _latest(engine: AsyncEngine) -> datetime:
    async with engine.connect() as conn:
        latest: datetime = await conn.scalar(text("SELECT max(paid_at) FROM retail.orders"))
    return latest
