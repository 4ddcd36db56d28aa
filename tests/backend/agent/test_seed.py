"""Retail seed: fixed-seed volumes and the planted stories the agent must find."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.agent.commands import retail_summary
from backend.agent.seed import BASE_ORDERS, members_for, seed_retail
from backend.core.runtime import migrate

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


async def test_every_redeemed_coupon_was_used_by_a_paid_order_of_its_member_within_its_validity(
    retail_engine: AsyncEngine,
) -> None:
    async with retail_engine.connect() as conn:
        wrong = await conn.scalar(
            text(
                "SELECT count(*) FROM retail.member_coupons c JOIN retail.orders o ON o.id = c.order_id "
                "WHERE o.member_id <> c.member_id OR o.pay_status <> 1 OR o.paid_at <> c.redeemed_at "
                "OR c.redeemed_at < c.issued_at OR c.redeemed_at >= c.expires_at OR o.original_amount < c.threshold"
            )
        )
        redeemed = await conn.scalar(text("SELECT count(*) FROM retail.member_coupons WHERE order_id IS NOT NULL"))
    assert redeemed and wrong == 0


async def test_every_campaign_issues_coupons_and_some_are_redeemed(retail_engine: AsyncEngine) -> None:
    async with retail_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT campaign, count(*) AS issued, avg((redeemed_at IS NOT NULL)::int) AS rate "
                    "FROM retail.member_coupons GROUP BY campaign"
                )
            )
        ).all()
    assert {r.campaign for r in rows} == {"会员日满减", "老客召回券", "新客礼券"}
    assert all(r.issued >= 100 and 0.05 < r.rate < 0.8 for r in rows)


# The orders and items of seed 42 ending 2026-11-22 05:00 UTC as generated before coupons, rollups and the SQL part
# of large seeds existed: the default 40,000-order world must not change.
DEFAULT_WORLD_MD5 = "fabeca7ec824b2e9f337b5239d7b4459"
NOW = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
STORY_CHECKSUM = """
SELECT md5(string_agg(concat_ws('|', o.id, o.store_id, o.member_id, extract(epoch FROM o.paid_at)::bigint, o.pay_status,
  o.channel, o.amount, o.original_amount, (SELECT string_agg(concat_ws(',', i.sku, i.category, i.qty, i.price), ';'
  ORDER BY i.id) FROM retail.order_items i WHERE i.order_id = o.id)), '/' ORDER BY o.id))
FROM retail.orders o WHERE o.id <= 40000
"""
WORLD_CHECKSUM = """
SELECT (SELECT md5(string_agg(concat_ws('|', id, store_id, member_id, extract(epoch FROM paid_at)::bigint, pay_status,
          channel, amount, original_amount), '/' ORDER BY id)) FROM retail.orders),
       (SELECT md5(string_agg(concat_ws('|', id, order_id, sku, category, qty, price), '/' ORDER BY id))
          FROM retail.order_items),
       (SELECT md5(string_agg(concat_ws('|', id, store_id, name, phone, level, extract(epoch FROM created_at)::bigint),
          '/' ORDER BY id)) FROM retail.members),
       (SELECT md5(string_agg(concat_ws('|', id, member_id, campaign, extract(epoch FROM issued_at)::bigint, order_id),
          '/' ORDER BY id)) FROM retail.member_coupons)
"""
EXTRA = 3_000


@pytest.fixture(scope="module")
async def scaled(test_databases) -> AsyncIterator[tuple[AsyncEngine, Counter[str]]]:
    """A database of its own seeded with 3,000 orders more than the default (the SQL-generated part)."""
    url = await asyncio.to_thread(test_databases.create, "salesbot_scaled")
    await asyncio.to_thread(migrate, url)
    engine = create_async_engine(url)
    progress: Counter[str] = Counter()
    await seed_retail(engine, orders=BASE_ORDERS + EXTRA, now=NOW, progress=lambda kind, n: progress.update({kind: n}))
    yield engine, progress
    await engine.dispose()


async def test_a_larger_seed_keeps_the_default_worlds_first_40000_orders(scaled) -> None:
    engine, _ = scaled
    async with engine.connect() as conn:
        assert await conn.scalar(text(STORY_CHECKSUM)) == DEFAULT_WORLD_MD5


async def test_orders_beyond_40000_have_items_that_add_up_to_their_original_amount(scaled) -> None:
    engine, _ = scaled
    async with engine.connect() as conn:
        counts = (
            await conn.execute(
                text(
                    "SELECT count(*) AS orders, count(*) FILTER (WHERE o.original_amount <> t.total "
                    "OR o.amount > o.original_amount OR o.amount < round(o.original_amount * 0.85, 2)) AS wrong "
                    "FROM retail.orders o JOIN (SELECT order_id, sum(qty * price) AS total FROM retail.order_items "
                    "GROUP BY order_id) t ON t.order_id = o.id WHERE o.id > 40000"
                )
            )
        ).one()
    assert (counts.orders, counts.wrong) == (EXTRA, 0)


async def test_a_larger_seed_restores_the_indexes_and_foreign_keys_it_set_aside(scaled) -> None:
    engine, _ = scaled
    async with engine.connect() as conn:
        indexes = set(
            (
                await conn.execute(
                    text(
                        "SELECT indexname FROM pg_indexes WHERE schemaname = 'retail' AND tablename IN ('orders', 'order_items')"
                    )
                )
            ).scalars()
        )
        keys = set(
            (
                await conn.execute(
                    text(
                        "SELECT conname FROM pg_constraint WHERE contype = 'f' "
                        "AND conrelid IN ('retail.orders'::regclass, 'retail.order_items'::regclass)"
                    )
                )
            ).scalars()
        )
    assert indexes == {
        "pk_orders",
        "ix_retail_orders_paid_at",
        "ix_retail_orders_store_id_paid_at",
        "ix_retail_orders_member_id_paid_at",
        "pk_order_items",
        "ix_retail_order_items_order_id",
    }
    assert keys == {"fk_orders_store_id_stores", "fk_orders_member_id_members", "fk_order_items_order_id_orders"}


async def test_progress_counts_every_order_then_coupons_and_rollups(scaled) -> None:
    _, progress = scaled
    assert progress["orders"] == BASE_ORDERS + EXTRA
    assert progress["members"] == members_for(BASE_ORDERS + EXTRA)
    assert progress["coupons"] > 0 and progress["rollups"] > 0


async def test_the_same_seed_generates_the_same_larger_world(scaled) -> None:
    engine, _ = scaled
    async with engine.connect() as conn:
        first = tuple((await conn.execute(text(WORLD_CHECKSUM))).one())
    await seed_retail(engine, orders=BASE_ORDERS + EXTRA, now=NOW)
    async with engine.connect() as conn:
        again = tuple((await conn.execute(text(WORLD_CHECKSUM))).one())
    assert first == again
