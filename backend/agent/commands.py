"""Work behind `salesbot seed retail` and `salesbot kb load|remove` (the CLI only parses options and prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from backend.agent import kb
from backend.agent.embedder import get_embedder
from backend.agent.executor import data_anchor, json_value
from backend.agent.rollups import refresh_rollups
from backend.agent.seed import Progress, SeedResult, seed_retail
from backend.agent.semantic import QuerySpec, compile_query


async def retail_summary(engine: AsyncEngine) -> dict[str, Any]:
    """Totals and last-7-day figures of the retail data, computed through the semantic layer."""
    anchor = await data_anchor(engine)
    compiled = compile_query(QuerySpec(["gmv", "orders", "aov", "repeat_rate"], [], "最近7天", "环比"), anchor)
    async with engine.connect() as conn:
        totals = (
            await conn.execute(
                text(
                    "SELECT count(*), count(*) FILTER (WHERE pay_status = 1), (SELECT count(*) FROM retail.order_items) FROM retail.orders"
                )
            )
        ).one()
        rows = (await conn.exec_driver_sql(compiled.sql)).mappings().all()
    periods = {row["period"]: {k: json_value(v) for k, v in row.items()} for row in rows}
    return {
        "anchor": anchor.isoformat(),
        "orders": totals[0],
        "paid_orders": totals[1],
        "order_items": totals[2],
        "current": periods.get("本期", {}),
        "previous": periods.get("上期", {}),
    }


async def seed(
    url: str, *, orders: int, seed_value: int, progress: Progress | None
) -> tuple[SeedResult, dict[str, Any]]:
    """Seed the retail schema and summarise it."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        result = await seed_retail(engine, orders=orders, seed=seed_value, progress=progress)
        return result, await retail_summary(engine)
    finally:
        await engine.dispose()


async def refresh(url: str) -> dict[str, int]:
    """Rebuild the retail rollups from the base tables (for `salesbot seed retail --refresh-rollups`)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        return await refresh_rollups(engine)
    finally:
        await engine.dispose()


async def retail_is_seeded(url: str) -> bool:
    """True when the retail schema already holds orders."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return bool(await conn.scalar(text("SELECT EXISTS (SELECT 1 FROM retail.orders)")))
    finally:
        await engine.dispose()


async def load_kb(url: str, directory: Path, *, model_path: str | None) -> dict[str, int]:
    """Load every Markdown file of a directory into the knowledge base."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        return await kb.load_documents(engine, get_embedder(model_path), kb.read_directory(directory))
    finally:
        await engine.dispose()


async def remove_kb_document(url: str, source: str, *, model_path: str | None) -> bool:
    """Delete a shared knowledge-base document by source; False when there is none."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        return await kb.remove_document(engine, get_embedder(model_path), source)
    finally:
        await engine.dispose()
