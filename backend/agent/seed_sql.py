"""Set-based parts of the retail seed, generated inside PostgreSQL from a fixed seed.

Randomness is `hashint8extended(key, salt)` mapped to [0, 1): a pure function of a row key and the seed, so
the same seed gives the same rows whatever the plan, batch size or server. Used for

- the scaled part of large seeds: members beyond the 3,000 of the story world and orders beyond the first
  40,000 (`salesbot seed retail --orders 4000000` takes minutes instead of hours in Python), with the same
  distributions and planted stories as the Python part (returning customers buying less in the last 7 days,
  recent newcomers with small baskets, payment failures at store 3 in the last 7 days);
- member coupons of every seed: weekly member-day coupons, fortnightly win-back coupons for lapsed buyers and
  a welcome coupon for each new member, redeemed by the member's first qualifying paid order within the
  validity (one coupon per order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.agent.timeframe import TZ

MASK = 2**53 - 1
STORE_COUNT = 10
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤"
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国文玉萍红燕鹏辉玲婷宇浩然欣怡子涵梓轩雨思远晨阳佳琪诗俊嘉颖博睿"
)
PHONE_PREFIXES = (*(f"13{d}" for d in "01256789"), "150", "151", "158", "159", "186", "187", "188", "199")
# Orders per member tier of the bulk part: (share of regular members, share of their orders).
TIERS = ((5, 30), (15, 30), (30, 25), (50, 15))
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.15, 1.2, 1.15)  # Monday .. Sunday
# (campaign, threshold, value, validity days, share of members redeeming when they have a qualifying order)
MEMBER_DAY = ("会员日满减", 69, 10, 3, 0.7)
WIN_BACK = ("老客召回券", 49, 10, 7, 0.8)
WELCOME = ("新客礼券", 29, 5, 7, 0.85)
MEMBER_DAY_SHARE = (0.15, 0.22, 0.30, 0.40, 0.55)  # members of level 1..5 receiving a member-day coupon
WIN_BACK_SHARE = 0.6
LAPSED = timedelta(days=21)


def uniform(key: str, salt: int) -> str:
    """SQL for a deterministic uniform number in [0, 1) from an integer key expression and a salt."""
    return f"(CAST(hashint8extended(CAST({key} AS BIGINT), {salt}) & {MASK} AS FLOAT8) / {float(MASK + 1)!r})"


def _timestamp(moment: datetime) -> str:
    return f"CAST('{moment.isoformat()}' AS TIMESTAMPTZ)"


@dataclass(frozen=True)
class World:
    """Shape of the generated world: member id ranges and the time window."""

    seed: int
    start: datetime
    end: datetime
    recent: datetime
    story_members: int
    story_regular: int
    members: int
    failing_store: int
    hour_slots: Sequence[int]
    categories: Sequence[tuple[str, int, int]]
    discounts: Sequence[str]

    @property
    def extra_regular(self) -> int:
        """Members beyond the story world that were registered before the window."""
        extra = self.members - self.story_members
        return extra - extra // 4

    @property
    def regular(self) -> int:
        """All members registered before the window."""
        return self.story_regular + self.extra_regular

    @property
    def newcomers(self) -> int:
        """All members registered in the last 7 days."""
        return self.members - self.regular

    def salt(self, use: int) -> int:
        """A salt per use of randomness, derived from the seed."""
        return self.seed * 1000 + use


async def add_members(conn: AsyncConnection, world: World) -> int:
    """Members with ids after the story world's: 3/4 registered before the window, 1/4 in the last days."""
    first = world.story_members + 1
    if world.members < first:
        return 0
    u = lambda n: uniform("g", world.salt(n))  # noqa: E731
    surnames = ", ".join(f"'{c}'" for c in SURNAMES)
    given = ", ".join(f"'{c}'" for c in GIVEN)
    prefixes = ", ".join(f"'{p}'" for p in PHONE_PREFIXES)
    newcomer_window = (world.end - world.recent).total_seconds() / 2
    regular_last = world.story_members + world.extra_regular
    sql = f"""
    INSERT INTO retail.members (id, store_id, name, phone, level, total_spent, created_at)
    SELECT g, 1 + CAST(floor({u(1)} * {STORE_COUNT}) AS INT),
        (ARRAY[{surnames}])[1 + CAST(floor({u(2)} * {len(SURNAMES)}) AS INT)]
          || (ARRAY[{given}])[1 + CAST(floor({u(3)} * {len(GIVEN)}) AS INT)]
          || CASE WHEN {u(4)} < 0.6 THEN (ARRAY[{given}])[1 + CAST(floor({u(5)} * {len(GIVEN)}) AS INT)] ELSE '' END,
        (ARRAY[{prefixes}])[1 + CAST(floor({u(6)} * {len(PHONE_PREFIXES)}) AS INT)]
          || lpad(CAST(CAST(floor({u(7)} * 100000000) AS BIGINT) AS TEXT), 8, '0'),
        CASE WHEN {u(8)} < 0.40 THEN 1 WHEN {u(8)} < 0.68 THEN 2 WHEN {u(8)} < 0.85 THEN 3
             WHEN {u(8)} < 0.95 THEN 4 ELSE 5 END,
        0,
        CASE WHEN g <= {regular_last}
             THEN {_timestamp(world.start)} - {u(9)} * INTERVAL '365 days'
             ELSE {_timestamp(world.recent)} + {u(9)} * {newcomer_window} * INTERVAL '1 second' END
    FROM generate_series({first}, {world.members}) AS g
    ORDER BY g
    """
    return (await conn.execute(text(sql))).rowcount


def day_counts(total: int, start: datetime, end: datetime) -> list[tuple[date, int, int, int]]:
    """(China day, orders, first and last+1 second of the day inside the window) spreading `total` orders."""
    first, last = start.astimezone(TZ).date(), end.astimezone(TZ).date()
    days = []
    day = first
    while day <= last:
        midnight = datetime.combine(day, time(0), tzinfo=TZ)
        lo = max(0, int((start - midnight).total_seconds()))
        hi = min(86400, int((end - midnight).total_seconds()) + 1)
        if hi > lo:
            days.append((day, lo, hi, WEEKDAY_WEIGHTS[day.weekday()] * (hi - lo) / 86400))
        day += timedelta(days=1)
    weight = sum(w for *_, w in days)
    exact = [total * w / weight for *_, w in days]
    counts = [int(x) for x in exact]
    # Largest remainders get the orders left over, earliest day first on ties.
    for i in sorted(range(len(days)), key=lambda i: (counts[i] - exact[i], i))[: total - sum(counts)]:
        counts[i] += 1
    return [(d, n, lo, hi) for (d, lo, hi, _), n in zip(days, counts, strict=True) if n]


_DEFERRED = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 2
FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(CAST(CAST(:tables AS TEXT[]) AS REGCLASS[]))
UNION ALL
SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 1
FROM pg_index AS i
WHERE i.indrelid = ANY(CAST(CAST(:tables AS TEXT[]) AS REGCLASS[]))
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
ORDER BY 3, 2
"""


async def add_orders(
    conn: AsyncConnection,
    world: World,
    *,
    count: int,
    first_order: int,
    first_item: int,
    home_stores: list[int],
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Generate `count` more orders and their items, one China day per statement; returns (orders, items)."""
    # As for any bulk load, the foreign keys of and secondary indexes on orders and order_items are dropped first
    # and recreated (the keys validated) at the end, in the caller's transaction: all or nothing.
    deferred = (await conn.execute(text(_DEFERRED), {"tables": ["retail.orders", "retail.order_items"]})).all()
    for drop, _, _ in deferred:
        await conn.execute(text(drop))
    order_id, item_id, g = first_order, first_item, 0
    for day, n, lo, hi in day_counts(count, world.start, world.end):
        recent = datetime.combine(day, time(0), tzinfo=TZ) >= world.recent
        params = {"g0": g, "g1": g + n, "id0": order_id, "item0": item_id, "homes": home_stores}
        items = await conn.scalar(text(_day_sql(world, day, lo, hi, recent=recent)), params)
        g, order_id, item_id = g + n, order_id + n, item_id + int(items or 0)
        if progress:
            progress(n)
    for _, create, _ in deferred:
        await conn.execute(text(create))
    return order_id - first_order, item_id - first_item


def _day_sql(world: World, day: date, lo: int, hi: int, *, recent: bool) -> str:
    """One statement for one day: orders (time, member with the recent-period stories, store, status) and items."""
    uniforms = ", ".join(f"{uniform('g', world.salt(100 + n))} AS u{n}" for n in range(16))
    regular = world.regular
    bounds = [0]
    for share, _ in TIERS:
        bounds.append(min(regular, bounds[-1] + max(1, regular * share // 100)))
    bounds[-1] = regular
    tiers, cumulative = [], 0.0
    for (_, orders_share), low, high in zip(TIERS, bounds, bounds[1:], strict=False):
        cumulative += orders_share / 100
        tiers.append(f"WHEN u3 < {cumulative:.4f} THEN {low} + floor(u4 * {max(1, high - low)})")
    rank = f"CAST(CASE {' '.join(tiers)} ELSE {regular - 1} END AS BIGINT)"
    extra_first = world.story_members + 1
    story_newcomers = world.story_members - world.story_regular
    extra_newcomer_first = extra_first + world.extra_regular
    regular_id = (
        f"CASE WHEN idx < {world.story_regular} THEN idx + 1 ELSE {extra_first} + idx - {world.story_regular} END"
    )
    newcomer_id = (
        f"CASE WHEN nidx < {story_newcomers} THEN {world.story_regular + 1} + nidx "
        f"ELSE {extra_newcomer_first} + nidx - {story_newcomers} END"
    )
    if recent:
        # Returning customers buy ~30% less often; guests and newcomers fill in (as in the Python part).
        member = (
            f"CASE WHEN u2 < 0.15 THEN NULL WHEN u6 < 0.3 THEN "
            f"CASE WHEN u7 < 0.5 AND u8 < 0.5 THEN NULL ELSE {newcomer_id} END "
            f"WHEN u6 < 0.356 THEN {newcomer_id} ELSE {regular_id} END"
        )
    else:
        member = f"CASE WHEN u2 < 0.15 THEN NULL ELSE {regular_id} END"
    slots = ", ".join(str(h) for h in world.hour_slots)
    home = (
        f"CASE WHEN member_id <= {world.story_members} THEN (CAST(:homes AS INT[]))[member_id] "
        f"ELSE 1 + CAST(floor({uniform('member_id', world.salt(1))} * {STORE_COUNT}) AS INT) END"
    )
    failure = f"CASE WHEN store_id = {world.failing_store} THEN 0.22 ELSE 0.03 END" if recent else "0.03"
    newcomer = f"member_id > {world.story_regular} AND (member_id <= {world.story_members} OR member_id >= {extra_newcomer_first})"
    lines = (
        f"CASE WHEN {newcomer} THEN 1 + floor(u14 * 2) ELSE 1 + floor(u14 * 5) END" if recent else "1 + floor(u14 * 5)"
    )
    discounts = ", ".join(world.discounts)
    return f"""
    WITH r AS MATERIALIZED (
        SELECT g, {uniforms} FROM generate_series(:g0, :g1 - 1) AS g
    ), picked AS MATERIALIZED (
        SELECT r.*, MOD({rank} * {_coprime_step(regular)} + {world.seed % regular}, {regular}) AS idx,
            CAST(floor(u5 * {world.newcomers}) AS BIGINT) AS nidx,
            (ARRAY[{slots}])[1 + CAST(floor(u0 * {len(world.hour_slots)}) AS INT)] * 3600
              + CAST(floor(u1 * 3600) AS INT) AS sec
        FROM r
    ), timed AS MATERIALIZED (
        SELECT picked.*, {member} AS member_id,
            (CAST('{day.isoformat()}' AS TIMESTAMP)
              + (CASE WHEN sec >= {lo} AND sec < {hi} THEN sec ELSE {lo} + MOD(sec, {hi - lo}) END)
              * INTERVAL '1 second') AT TIME ZONE 'Asia/Shanghai' AS paid_at
        FROM picked
    ), placed AS MATERIALIZED (
        SELECT timed.*,
            CASE WHEN member_id IS NOT NULL AND u10 < 0.8 THEN {home}
                 ELSE 1 + CAST(floor(u11 * {STORE_COUNT}) AS INT) END AS store_id
        FROM timed
    ), o AS (
        SELECT g, store_id, member_id, paid_at,
            CASE WHEN u12 < {failure} THEN 0 ELSE 1 END AS pay_status,
            CASE WHEN u13 < 0.55 THEN 'offline' WHEN u13 < 0.80 THEN 'online' ELSE 'delivery' END AS channel,
            CAST({lines} AS INT) AS lines,
            (ARRAY[{discounts}])[1 + CAST(floor(u15 * {len(world.discounts)}) AS INT)] AS discount
        FROM placed
    ), b AS MATERIALIZED (
        SELECT :id0 - 1 + row_number() OVER w AS id, g, store_id, member_id, paid_at, pay_status, channel, lines,
            discount, :item0 + SUM(lines) OVER w - lines AS first_item
        FROM o
        WINDOW w AS (ORDER BY paid_at, g ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ), items AS (
        {_items_sql(world)}
        RETURNING order_id, qty, price
    ), orders AS (
        INSERT INTO retail.orders (id, store_id, member_id, paid_at, pay_status, channel, amount, original_amount)
        SELECT b.id, b.store_id, b.member_id, b.paid_at, b.pay_status, b.channel, ROUND(t.original * b.discount, 2),
            t.original
        FROM b JOIN (SELECT order_id, SUM(qty * price) AS original FROM items GROUP BY order_id) AS t
            ON t.order_id = b.id
        ORDER BY b.id
    )
    SELECT COUNT(*) FROM items
    """


def _items_sql(world: World) -> str:
    """The lines of the day's orders (CTE b): category, SKU, price in the category's range, quantity."""
    key = "b.g * 8 + l"
    u = lambda n: uniform(key, world.salt(200 + n))  # noqa: E731
    names = ", ".join(f"'{name}'" for name, _, _ in world.categories)
    lows = ", ".join(str(low) for _, low, _ in world.categories)
    spans = ", ".join(str((high - low) * 10 + 1) for _, low, high in world.categories)
    return f"""
INSERT INTO retail.order_items (id, order_id, sku, category, qty, price)
    SELECT b.first_item + l - 1, b.id, 'SKU' || CAST(1000 + CAST(floor({u(0)} * 300) AS INT) AS TEXT),
        (ARRAY[{names}])[c.k],
        CASE WHEN {u(2)} < 0.70 THEN 1 WHEN {u(2)} < 0.92 THEN 2 ELSE 3 END,
        CAST((ARRAY[{lows}])[c.k] * 10 + floor({u(3)} * (ARRAY[{spans}])[c.k]) AS NUMERIC) / 10
    FROM b
    CROSS JOIN LATERAL generate_series(1, b.lines) AS l
    CROSS JOIN LATERAL (SELECT 1 + CAST(floor({u(1)} * {len(world.categories)}) AS INT) AS k) AS c
    ORDER BY 1"""


def _coprime_step(n: int) -> int:
    """A large prime not dividing n: spreads popular ranks over member ids."""
    for prime in (7919, 7927, 7933, 7937, 7949):
        if n % prime:
            return prime
    return 1


def coupon_waves(world: World) -> list[tuple[int, str, datetime, int, int, int]]:
    """(wave, campaign, issued at, threshold, value, days) of the member-day and win-back coupon waves."""
    # Member days: Wednesdays 10:00. Win-back: every other Monday 09:00, once there are four weeks of history.
    waves: list[tuple[int, str, datetime, int, int, int]] = []
    day = world.start.astimezone(TZ).date()
    while day <= world.end.astimezone(TZ).date():
        if day.weekday() == 2:
            issued = datetime.combine(day, time(10), tzinfo=TZ)
            campaign, threshold, value, days, _ = MEMBER_DAY
        elif day.weekday() == 0 and day.isocalendar().week % 2 == 0:
            issued = datetime.combine(day, time(9), tzinfo=TZ)
            campaign, threshold, value, days, _ = WIN_BACK
            if issued - world.start < LAPSED + timedelta(days=7):
                day += timedelta(days=1)
                continue
        else:
            day += timedelta(days=1)
            continue
        if world.start <= issued <= world.end:
            waves.append((len(waves) + 1, campaign, issued, threshold, value, days))
        day += timedelta(days=1)
    return waves


async def add_coupons(conn: AsyncConnection, world: World) -> tuple[int, int]:
    """Issue member coupons and redeem them by qualifying paid orders; returns (issued, redeemed)."""
    waves = coupon_waves(world)
    shares = ", ".join(str(s) for s in MEMBER_DAY_SHARE)

    def values(campaign: str) -> str:
        """VALUES rows of one campaign's waves (a placeholder filtered out by `wave > 0` when it has none)."""
        rows = [
            f"({wave}, '{name}', {_timestamp(issued)}, {threshold}, {value}, {days})"
            for wave, name, issued, threshold, value, days in waves
            if name == campaign
        ]
        return ", ".join(rows) or f"(0, '{campaign}', {_timestamp(world.start)}, 0, 1, 1)"

    pick = uniform("m.id * 128 + w.wave", world.salt(300))
    columns = "m.id, m.store_id, w.campaign, w.threshold, w.value, w.issued_at, w.issued_at + w.days * INTERVAL '1 day'"
    waves_of = "AS w(wave, campaign, issued_at, threshold, value, days) JOIN retail.members AS m ON m.created_at <= w.issued_at"
    lapsed = f"INTERVAL '{LAPSED.days} days'"
    name, threshold, value, days, _ = WELCOME
    issue = f"""
    INSERT INTO retail.member_coupons (id, member_id, store_id, campaign, threshold, value, issued_at, expires_at)
    SELECT row_number() OVER (ORDER BY i.issued_at, i.member_id, i.campaign), i.*
    FROM (
        SELECT {columns} FROM (VALUES {values(MEMBER_DAY[0])}) {waves_of}
        WHERE w.wave > 0 AND {pick} < (ARRAY[{shares}])[m.level]
        UNION ALL
        SELECT {columns} FROM (VALUES {values(WIN_BACK[0])}) {waves_of}
        WHERE w.wave > 0 AND {pick} < {WIN_BACK_SHARE}
          AND EXISTS (SELECT 1 FROM retail.orders AS o WHERE o.member_id = m.id AND o.pay_status = 1
                      AND o.paid_at < w.issued_at - {lapsed})
          AND NOT EXISTS (SELECT 1 FROM retail.orders AS o WHERE o.member_id = m.id AND o.pay_status = 1
                          AND o.paid_at >= w.issued_at - {lapsed} AND o.paid_at < w.issued_at)
        UNION ALL
        SELECT m.id, m.store_id, '{name}', {threshold}, {value}, m.created_at, m.created_at + INTERVAL '{days} days'
        FROM retail.members AS m
        WHERE m.created_at >= {_timestamp(world.start)} AND m.created_at <= {_timestamp(world.end)}
    ) AS i(member_id, store_id, campaign, threshold, value, issued_at, expires_at)
    """
    issued = (await conn.execute(text(issue))).rowcount
    rates = " ".join(f"WHEN '{c[0]}' THEN {c[4]}" for c in (MEMBER_DAY, WIN_BACK, WELCOME))
    redeem = f"""
    WITH candidate AS (
        SELECT c.id AS coupon_id, o.id AS order_id, o.paid_at AS paid_at
        FROM retail.member_coupons AS c
        CROSS JOIN LATERAL (
            SELECT o.id, o.paid_at FROM retail.orders AS o
            WHERE o.member_id = c.member_id AND o.pay_status = 1 AND o.paid_at >= c.issued_at
              AND o.paid_at < c.expires_at AND o.original_amount >= c.threshold
            ORDER BY o.paid_at, o.id LIMIT 1
        ) AS o
        WHERE {uniform("c.id", world.salt(301))} < CASE c.campaign {rates} ELSE 0 END
    ), one_per_order AS (
        SELECT DISTINCT ON (order_id) coupon_id, order_id, paid_at FROM candidate ORDER BY order_id, coupon_id
    )
    UPDATE retail.member_coupons AS c SET redeemed_at = p.paid_at, order_id = p.order_id
    FROM one_per_order AS p WHERE c.id = p.coupon_id
    """
    redeemed = (await conn.execute(text(redeem))).rowcount
    return issued, redeemed
