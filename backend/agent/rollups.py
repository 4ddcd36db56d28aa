"""Daily rollups of the retail data: rebuilt from the base tables, used by the semantic layer while complete.

`retail.daily_store_sales` holds, per China day, store, channel and member level (0 = walk-in guest), the
orders, paid orders, paid GMV and paid original amount; `retail.daily_coupon_stats` holds, per China day of
issue, issuing store and member level, the coupons issued and how many of them are redeemed. Both are rebuilt
in one REPEATABLE READ transaction (one snapshot), and `retail.rollup_state` records the newest order and
coupon they saw. A rollup is *fresh* while no order (or coupon) newer than that exists: then it holds exactly
what the base tables hold for every whole China day, and the semantic layer reads it instead of the base
tables. Rows changed after a refresh without a newer order (a late correction of an old order) need another
refresh; `salesbot seed retail` refreshes after seeding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.agent.timeframe import TZ

SALES = "daily_store_sales"
COUPONS = "daily_coupon_stats"
LOCAL_DAY = "CAST({column} AT TIME ZONE 'Asia/Shanghai' AS DATE)"

_REBUILD_SALES = f"""
INSERT INTO retail.daily_store_sales (day, store_id, channel, member_level, orders, paid_orders, gmv, original_amount)
SELECT {LOCAL_DAY.format(column="o.paid_at")}, o.store_id, o.channel, COALESCE(m.level, 0), COUNT(*),
       COUNT(*) FILTER (WHERE o.pay_status = 1),
       COALESCE(SUM(o.amount) FILTER (WHERE o.pay_status = 1), 0),
       COALESCE(SUM(o.original_amount) FILTER (WHERE o.pay_status = 1), 0)
FROM retail.orders AS o LEFT JOIN retail.members AS m ON m.id = o.member_id
GROUP BY 1, 2, 3, 4
"""
_REBUILD_COUPONS = f"""
INSERT INTO retail.daily_coupon_stats (day, store_id, member_level, issued, redeemed)
SELECT {LOCAL_DAY.format(column="c.issued_at")}, c.store_id, m.level, COUNT(*), COUNT(c.redeemed_at)
FROM retail.member_coupons AS c JOIN retail.members AS m ON m.id = c.member_id
GROUP BY 1, 2, 3
"""
_STATE = """
INSERT INTO retail.rollup_state (name, refreshed_at, orders_through, coupons_through, source_rows)
VALUES (:name, now(), :orders_through, :coupons_through, :rows)
ON CONFLICT (name) DO UPDATE SET refreshed_at = excluded.refreshed_at, orders_through = excluded.orders_through,
    coupons_through = excluded.coupons_through, source_rows = excluded.source_rows
"""
_LATEST = (
    "SELECT (SELECT max(paid_at) FROM retail.orders), (SELECT max(issued_at) FROM retail.member_coupons), "
    "(SELECT count(*) FROM retail.orders), (SELECT count(*) FROM retail.member_coupons)"
)


@dataclass(frozen=True)
class RollupStatus:
    """Which rollups may answer queries now, and when they were rebuilt."""

    sales: bool = False
    coupons: bool = False
    refreshed_at: datetime | None = None

    def note(self, table: str) -> str:
        """The 口径 line telling where a figure came from and how fresh it is."""
        when = f"{self.refreshed_at.astimezone(TZ):%Y-%m-%d %H:%M}" if self.refreshed_at else "未知"
        return f"数据来源: 日汇总表 retail.{table}（{when} 北京时间重建，覆盖到最新一笔订单/券，与明细表一致）"


NO_ROLLUPS = RollupStatus()


@dataclass(frozen=True)
class DataState:
    """The data's "today" (China day of the newest order) and which rollups are fresh."""

    anchor: date
    rollups: RollupStatus


async def refresh_rollups(engine: AsyncEngine) -> dict[str, int]:
    """Rebuild both rollups from one snapshot of the base tables; returns the rows written per rollup."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            # A second refresh waits for this one (the lock conflicts with itself, not with readers).
            await conn.execute(text("LOCK TABLE retail.rollup_state IN SHARE ROW EXCLUSIVE MODE"))
            return await _rebuild(conn)


async def _rebuild(conn: AsyncConnection) -> dict[str, int]:
    latest_order, latest_coupon, orders, coupons = (await conn.execute(text(_LATEST))).one()
    await conn.execute(text("DELETE FROM retail.daily_store_sales"))
    sales = (await conn.execute(text(_REBUILD_SALES))).rowcount
    await conn.execute(text("DELETE FROM retail.daily_coupon_stats"))
    coupon_rows = (await conn.execute(text(_REBUILD_COUPONS))).rowcount
    for name, rows in ((SALES, orders), (COUPONS, coupons)):
        await conn.execute(
            text(_STATE),
            {"name": name, "orders_through": latest_order, "coupons_through": latest_coupon, "rows": rows},
        )
    return {SALES: sales, COUPONS: coupon_rows}


async def data_state(engine: AsyncEngine) -> DataState:
    """Anchor day and rollup freshness in one round trip (the report path calls this once per question)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT max(paid_at) FROM retail.orders) AS latest_order, "
                    "(SELECT max(issued_at) FROM retail.member_coupons) AS latest_coupon, "
                    "s.refreshed_at, s.orders_through, s.coupons_through, c.refreshed_at AS coupons_refreshed_at, "
                    "c.orders_through AS c_orders_through, c.coupons_through AS c_coupons_through "
                    "FROM (SELECT 1) AS one "
                    f"LEFT JOIN retail.rollup_state AS s ON s.name = '{SALES}' "
                    f"LEFT JOIN retail.rollup_state AS c ON c.name = '{COUPONS}'"
                )
            )
        ).one()
    latest_order: datetime | None = row.latest_order
    anchor = (latest_order or datetime.now(TZ)).astimezone(TZ).date()
    sales = row.refreshed_at is not None and _covers(row.orders_through, latest_order)
    coupons = (
        row.coupons_refreshed_at is not None
        and _covers(row.c_orders_through, latest_order)
        and _covers(row.c_coupons_through, row.latest_coupon)
    )
    return DataState(anchor, RollupStatus(sales, coupons, row.refreshed_at or row.coupons_refreshed_at))


def _covers(through: datetime | None, latest: datetime | None) -> bool:
    """True when the rollup saw the newest source row (or there is none)."""
    if latest is None:
        return True
    return through is not None and latest <= through
