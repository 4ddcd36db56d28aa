"""Deterministic retail data with planted, diagnosable stories (`salesbot seed retail`)."""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from faker import Faker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.agent import seed_sql
from backend.agent.rollups import refresh_rollups
from backend.agent.timeframe import TZ, window_start

SEED = 42
DAYS = 90
BASE_ORDERS = 40_000
BASE_MEMBERS = 3_000
STORES = (
    ("徐汇旗舰店", "上海"),
    ("静安店", "上海"),
    ("天河店", "广州"),
    ("南山店", "深圳"),
    ("朝阳店", "北京"),
    ("海淀店", "北京"),
    ("西湖店", "杭州"),
    ("武侯店", "成都"),
    ("江汉店", "武汉"),
    ("鼓楼店", "南京"),
)
FAILING_STORE = 3
CATEGORIES = {
    "饮品": (8, 32),
    "烘焙": (10, 45),
    "零食": (5, 30),
    "生鲜": (15, 90),
    "日用": (9, 60),
    "乳品": (6, 28),
}
CHANNELS = (("offline", 55), ("online", 25), ("delivery", 20))
HOUR_WEIGHTS = (0, 0, 0, 0, 0, 0, 1, 3, 5, 5, 6, 8, 10, 8, 6, 5, 6, 8, 10, 9, 7, 4, 2, 1)
BATCH = 20_000
HOUR_SLOTS = tuple(hour for hour, weight in enumerate(HOUR_WEIGHTS) for _ in range(weight))
DISCOUNTS = ("1.00", "1.00", "0.95", "0.90", "0.85")  # the same choices as the Python part

Progress = Callable[[str, int], None]


@dataclass
class SeedResult:
    """What the seed wrote."""

    stores: int
    members: int
    orders: int
    order_items: int
    anchor: datetime
    coupons: int = 0
    redeemed_coupons: int = 0


@dataclass
class _Buyers:
    """Member pools and the state needed to plant the returning-customer drop."""

    cum_weights: list[float]
    regular: int
    newcomers: list[int]
    next_newcomer: int
    paid_before: list[int]


def members_for(orders: int) -> int:
    """Members scale with orders (3,000 for the default 40,000)."""
    return max(BASE_MEMBERS, orders * BASE_MEMBERS // BASE_ORDERS)


def _order_times(rng: random.Random, count: int, start: datetime, end: datetime) -> Iterator[datetime]:
    """Sorted order timestamps: uniform days, busy hours weighted."""
    days = (end - start).days
    hours = list(range(24))
    per_day = [0] * (days + 1)
    for _ in range(count):
        per_day[rng.randrange(days + 1)] += 1
    first_day = start.astimezone(TZ).date()
    for offset, n in enumerate(per_day):
        day = first_day + timedelta(days=offset)
        stamps = []
        for _ in range(n):
            hour = rng.choices(hours, weights=HOUR_WEIGHTS)[0]
            local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=TZ)
            stamps.append(min(max(local.astimezone(UTC), start), end))
        yield from sorted(stamps)


async def seed_retail(
    engine: AsyncEngine,
    *,
    orders: int = BASE_ORDERS,
    seed: int = SEED,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> SeedResult:
    """Replace the retail data (stores, members, orders, items, coupons) with generated data ending at `now`."""
    # The first 40,000 orders (and their 3,000 members) come from the Python generator below; orders beyond them,
    # and their extra members, are generated in SQL with the same distributions and stories (seed_sql.py), as
    # are the member coupons; the rollups are rebuilt at the end. Progress is reported per kind: stores, members,
    # orders, coupons, rollups.
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    start = end - timedelta(days=DAYS)
    recent = window_start(end.astimezone(TZ).date(), 7)
    total_orders = orders
    orders = min(orders, BASE_ORDERS)
    member_count = members_for(orders)
    newcomer_count = member_count // 4
    regular = member_count - newcomer_count

    store_rows = [(i + 1, name, city) for i, (name, city) in enumerate(STORES)]
    member_rows: list[tuple[Any, ...]] = []
    for i in range(member_count):
        if i < regular:
            created = start - timedelta(days=rng.uniform(0, 365))
        else:
            created = recent + timedelta(seconds=rng.uniform(0, (end - recent).total_seconds() / 2))
        level = rng.choices((1, 2, 3, 4, 5), weights=(40, 28, 17, 10, 5))[0]
        member_rows.append(
            (i + 1, rng.randrange(len(STORES)) + 1, fake.name(), fake.phone_number(), level, Decimal(0), created)
        )
    # Heavy-tailed activity: a few members buy often, many rarely.
    weights = [rng.paretovariate(1.6) for _ in range(regular)]
    buyers = _Buyers(list(accumulate(weights)), regular, list(range(regular, member_count)), 0, [0] * member_count)
    rng.shuffle(buyers.newcomers)

    async with engine.begin() as conn:
        # The generated statements look expensive to the planner; compiling them with JIT costs seconds each.
        await conn.execute(text("SET LOCAL jit = off"))
        await conn.execute(
            text(
                "TRUNCATE retail.daily_store_sales, retail.daily_coupon_stats, retail.rollup_state, "
                "retail.member_coupons, retail.order_items, retail.orders, retail.members, retail.stores "
                "RESTART IDENTITY CASCADE"
            )
        )
        raw = await conn.get_raw_connection()
        pg: Any = raw.driver_connection
        await pg.copy_records_to_table("stores", schema_name="retail", records=store_rows)
        if progress:
            progress("stores", len(store_rows))

        await pg.copy_records_to_table(
            "members",
            schema_name="retail",
            records=member_rows,
            columns=["id", "store_id", "name", "phone", "level", "total_spent", "created_at"],
        )
        if progress:
            progress("members", len(member_rows))
        order_batch: list[tuple[Any, ...]] = []
        item_batch: list[tuple[Any, ...]] = []
        item_id = 0
        order_id = 0
        for paid_at in _order_times(rng, orders, start, end):
            order_id += 1
            in_recent = paid_at >= recent
            member = _pick_member(rng, buyers, in_recent=in_recent)
            newcomer = member is not None and member >= buyers.regular
            store = _store_of(rng, member, member_rows)
            failure_rate = 0.22 if (store == FAILING_STORE and in_recent) else 0.03
            pay_status = 0 if rng.random() < failure_rate else 1
            channel = rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
            # Planted: recent newcomers buy smaller baskets.
            lines = rng.randint(1, 2) if (newcomer and in_recent) else rng.randint(1, 5)
            original = Decimal(0)
            for _ in range(lines):
                category = rng.choice(list(CATEGORIES))
                low, high = CATEGORIES[category]
                price = Decimal(rng.randint(low * 10, high * 10)) / 10
                qty = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
                item_id += 1
                item_batch.append((item_id, order_id, f"SKU{rng.randint(1000, 1299)}", category, qty, price))
                original += price * qty
            discount = Decimal(rng.choice((100, 100, 95, 90, 85))) / 100
            amount = (original * discount).quantize(Decimal("0.01"))
            member_id = member + 1 if member is not None else None
            order_batch.append((order_id, store, member_id, paid_at, pay_status, channel, amount, original))
            if member is not None and pay_status == 1:
                buyers.paid_before[member] += 1
            if len(order_batch) >= BATCH:
                await _copy_orders(pg, order_batch, item_batch, progress)
                order_batch, item_batch = [], []
        if order_batch:
            await _copy_orders(pg, order_batch, item_batch, progress)
        world = seed_sql.World(
            seed=seed,
            start=start,
            end=end,
            recent=recent,
            story_members=member_count,
            story_regular=regular,
            members=members_for(total_orders),
            failing_store=FAILING_STORE,
            hour_slots=HOUR_SLOTS,
            categories=[(name, low, high) for name, (low, high) in CATEGORIES.items()],
            discounts=DISCOUNTS,
        )
        if total_orders > orders:
            extra = await seed_sql.add_members(conn, world)
            if progress:
                progress("members", extra)
            member_count += extra
            added, added_items = await seed_sql.add_orders(
                conn,
                world,
                count=total_orders - orders,
                first_order=order_id + 1,
                first_item=item_id + 1,
                home_stores=[row[1] for row in member_rows],
                progress=(lambda n: progress("orders", n)) if progress else None,
            )
            order_id += added
            item_id += added_items
        # Plans of the statements below (per-member look-ups) need statistics of the new rows.
        await conn.execute(text("ANALYZE retail.members, retail.orders"))
        await conn.execute(
            text(
                "UPDATE retail.members m SET total_spent = s.total FROM ("
                "SELECT member_id, SUM(amount) AS total FROM retail.orders WHERE pay_status = 1 "
                "AND member_id IS NOT NULL GROUP BY member_id) s WHERE m.id = s.member_id"
            )
        )
        coupons, redeemed = await seed_sql.add_coupons(conn, world)
        if progress:
            progress("coupons", coupons)
        for table in ("stores", "members", "orders", "order_items", "member_coupons"):
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('retail.{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM retail.{table}), 0) + 1, false)"
                )
            )
    async with engine.begin() as conn:
        for table in ("orders", "order_items", "members", "member_coupons"):
            await conn.execute(text(f"ANALYZE retail.{table}"))
    rollups = await refresh_rollups(engine)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE retail.daily_store_sales"))
        await conn.execute(text("ANALYZE retail.daily_coupon_stats"))
    if progress:
        progress("rollups", sum(rollups.values()))
    return SeedResult(len(store_rows), member_count, order_id, item_id, end, coupons, redeemed)


async def _copy_orders(
    pg: Any, order_rows: list[tuple[Any, ...]], item_rows: list[tuple[Any, ...]], progress: Progress | None
) -> None:
    """COPY one batch of orders and their items."""
    await pg.copy_records_to_table(
        "orders",
        schema_name="retail",
        records=order_rows,
        columns=["id", "store_id", "member_id", "paid_at", "pay_status", "channel", "amount", "original_amount"],
    )
    await pg.copy_records_to_table(
        "order_items",
        schema_name="retail",
        records=item_rows,
        columns=["id", "order_id", "sku", "category", "qty", "price"],
    )
    if progress:
        progress("orders", len(order_rows))


def _pick_member(rng: random.Random, buyers: _Buyers, *, in_recent: bool) -> int | None:
    """A member index (None for a walk-in guest), planting the recent returning-customer drop."""
    if rng.random() < 0.15:
        return None
    total = buyers.cum_weights[-1]
    member = bisect.bisect_left(buyers.cum_weights, rng.random() * total)
    member = min(member, buyers.regular - 1)
    if not in_recent:
        return member
    # Recent period: returning customers (>= 2 paid orders before) buy ~30% less often, newcomers fill in.
    if buyers.paid_before[member] >= 2 and rng.random() < 0.3:
        if rng.random() < 0.5:
            return None if rng.random() < 0.5 else _newcomer(rng, buyers)
        return _newcomer(rng, buyers)
    if rng.random() < 0.08:
        return _newcomer(rng, buyers)
    return member


def _newcomer(rng: random.Random, buyers: _Buyers) -> int:
    if buyers.next_newcomer < len(buyers.newcomers):
        buyers.next_newcomer += 1
        return buyers.newcomers[buyers.next_newcomer - 1]
    return buyers.newcomers[rng.randrange(len(buyers.newcomers))]


def _store_of(rng: random.Random, member: int | None, member_rows: list[Any]) -> int:
    """Members mostly buy at their home store."""
    if member is not None and rng.random() < 0.8:
        home: int = member_rows[member][1]
        return home
    return rng.randrange(len(STORES)) + 1
