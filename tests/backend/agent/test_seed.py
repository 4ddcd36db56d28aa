"""Retail seed: fixed-seed volumes and the planted stories the agent must find."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.agent.commands import retail_summary

STORE_PAY = """
WITH b AS (SELECT (max(paid_at) AT TIME ZONE 'Asia/Shanghai')::date AS anchor FROM retail.orders)
SELECT o.store_id,
       avg(o.pay_status) FILTER (WHERE (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date > b.anchor - 7) AS recent,
       avg(o.pay_status) FILTER (WHERE (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date <= b.anchor - 7) AS before
FROM retail.orders o, b GROUP BY o.store_id ORDER BY o.store_id
"""


async def test_default_seed_has_the_documented_volumes(retail_engine: AsyncEngine) -> None:
    async with retail_engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM retail.stores), (SELECT count(*) FROM retail.members), "
                    "(SELECT count(*) FROM retail.orders), (SELECT min(n) FROM (SELECT count(*) n FROM retail.order_items GROUP BY order_id) x), "
                    "(SELECT max(n) FROM (SELECT count(*) n FROM retail.order_items GROUP BY order_id) y)"
                )
            )
        ).one()
    assert tuple(counts) == (10, 3000, 40000, 1, 5)


async def test_repeat_rate_drops_in_the_last_seven_days(retail_engine: AsyncEngine) -> None:
    summary = await retail_summary(retail_engine)
    assert summary["current"]["repeat_rate"] < summary["previous"]["repeat_rate"] * 0.8


async def test_only_store_three_loses_payment_success(retail_engine: AsyncEngine) -> None:
    async with retail_engine.connect() as conn:
        rows = (await conn.execute(text(STORE_PAY))).all()
    dropped = [r.store_id for r in rows if r.before - r.recent > 0.1]
    assert dropped == [3]


async def test_members_total_spent_matches_their_paid_orders(retail_engine: AsyncEngine) -> None:
    async with retail_engine.connect() as conn:
        mismatches = await conn.scalar(
            text(
                "SELECT count(*) FROM retail.members m LEFT JOIN (SELECT member_id, sum(amount) s FROM retail.orders "
                "WHERE pay_status = 1 GROUP BY member_id) o ON o.member_id = m.id WHERE m.total_spent <> coalesce(o.s, 0)"
            )
        )
    assert mismatches == 0
