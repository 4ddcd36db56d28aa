"""Semantic layer: named metrics, dimensions and time ranges compiled to exact SQL over the retail schema.

Order metrics that are sums or ratios of sums (GMV, 订单数, 客单价, 支付成功率, 优惠率) and the coupon metrics
(发券数, 核销数, 券核销率) are read from the daily rollups (`retail.daily_store_sales`,
`retail.daily_coupon_stats`, see rollups.py) when the rollup is fresh, every requested dimension exists in it
and the window is made of whole China days; the numbers are then exactly those of the base tables. Everything
else (下单会员数, 复购率, 新客数, the 品类 dimension) is computed from the base tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from backend.agent.rollups import COUPONS as COUPON_ROLLUP_TABLE
from backend.agent.rollups import NO_ROLLUPS, RollupStatus
from backend.agent.rollups import SALES as SALES_ROLLUP_TABLE
from backend.agent.timeframe import TZ, day_start, window_start

LOCAL = "o.paid_at AT TIME ZONE 'Asia/Shanghai'"
PAID = "o.pay_status = 1"
Family = Literal["order", "member", "coupon"]


@dataclass(frozen=True)
class Metric:
    """A named metric with its definition (口径), its SQL on the base table and, when it has one, on a rollup."""

    key: str
    label: str
    definition: str
    aliases: tuple[str, ...]
    sql: str = ""
    item_sql: str = ""
    family: Family = "order"
    rollup_sql: str = ""

    @property
    def rollup(self) -> str | None:
        """The rollup table this metric can be read from, if any."""
        if not self.rollup_sql:
            return None
        return f"retail.{COUPON_ROLLUP_TABLE if self.family == 'coupon' else SALES_ROLLUP_TABLE}"


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric(
            "gmv",
            "GMV",
            "GMV = 支付成功订单的实付金额(amount)之和，不含支付失败订单",
            ("gmv", "销售额", "营业额", "成交额", "流水"),
            f"ROUND(COALESCE(SUM(o.amount) FILTER (WHERE {PAID}), 0), 2)",
            f"ROUND(COALESCE(SUM(i.qty * i.price) FILTER (WHERE {PAID}), 0), 2)",
            rollup_sql="ROUND(COALESCE(SUM(r.gmv), 0), 2)",
        ),
        Metric(
            "orders",
            "订单数",
            "订单数 = 支付成功的订单笔数",
            ("订单数", "订单量", "单量", "成交笔数"),
            f"COUNT(*) FILTER (WHERE {PAID})",
            f"COUNT(DISTINCT o.id) FILTER (WHERE {PAID})",
            rollup_sql="COALESCE(SUM(r.paid_orders), 0)",
        ),
        Metric(
            "aov",
            "客单价",
            "客单价 = GMV / 支付成功订单数（按笔计算的平均实付金额）",
            ("客单价", "平均订单金额", "笔单价", "aov"),
            f"ROUND(SUM(o.amount) FILTER (WHERE {PAID}) / NULLIF(COUNT(*) FILTER (WHERE {PAID}), 0), 2)",
            f"ROUND(SUM(i.qty * i.price) FILTER (WHERE {PAID}) / NULLIF(COUNT(DISTINCT o.id) FILTER (WHERE {PAID}), 0), 2)",
            rollup_sql="ROUND(SUM(r.gmv) / NULLIF(SUM(r.paid_orders), 0), 2)",
        ),
        Metric(
            "pay_success_rate",
            "支付成功率",
            "支付成功率 = 支付成功订单数 / 发起支付的订单总数",
            ("支付成功率", "支付失败", "成功率"),
            f"ROUND(CAST(COUNT(*) FILTER (WHERE {PAID}) AS NUMERIC) / NULLIF(COUNT(*), 0), 4)",
            f"ROUND(CAST(COUNT(DISTINCT o.id) FILTER (WHERE {PAID}) AS NUMERIC) / NULLIF(COUNT(DISTINCT o.id), 0), 4)",
            rollup_sql="ROUND(CAST(SUM(r.paid_orders) AS NUMERIC) / NULLIF(SUM(r.orders), 0), 4)",
        ),
        Metric(
            "buyers",
            "下单会员数",
            "下单会员数 = 周期内有支付成功订单的去重会员数（不含游客）",
            ("下单会员", "购买人数", "下单人数"),
            f"COUNT(DISTINCT o.member_id) FILTER (WHERE {PAID})",
            f"COUNT(DISTINCT o.member_id) FILTER (WHERE {PAID})",
        ),
        Metric(
            "discount_rate",
            "优惠率",
            "优惠率 = 1 - 实付金额之和 / 原价金额之和（支付成功订单）",
            ("优惠率", "折扣率", "让利"),
            f"ROUND(1 - SUM(o.amount) FILTER (WHERE {PAID}) / NULLIF(SUM(o.original_amount) FILTER (WHERE {PAID}), 0), 4)",
            rollup_sql="ROUND(1 - SUM(r.gmv) / NULLIF(SUM(r.original_amount), 0), 4)",
        ),
        Metric(
            "repeat_rate",
            "复购率",
            "复购率 = 周期内支付成功订单 >= 2 笔的会员数 / 周期内有支付成功订单的会员数",
            ("复购率", "复购", "回购率"),
            family="member",
        ),
        Metric(
            "new_customers",
            "新客数",
            "新客数 = 首笔支付成功订单落在本周期内的会员数",
            ("新客数", "新客", "新会员", "拉新"),
            family="member",
        ),
        Metric(
            "coupons_issued",
            "发券数",
            "发券数 = 发放时间(issued_at)落在周期内的会员券张数；按发券日期与发券门店（会员所属门店）归属",
            ("发券数", "发券量", "发券张数", "领券数"),
            "COUNT(*)",
            family="coupon",
            rollup_sql="COALESCE(SUM(r.issued), 0)",
        ),
        Metric(
            "coupons_redeemed",
            "核销数",
            "核销数 = 周期内发放的会员券中已核销的张数（redeemed_at 不为空：已被一笔支付成功订单使用，一单限用一张）",
            ("核销数", "核销张数", "核销量", "用券数"),
            "COUNT(c.redeemed_at)",
            family="coupon",
            rollup_sql="COALESCE(SUM(r.redeemed), 0)",
        ),
        Metric(
            "coupon_redemption_rate",
            "券核销率",
            "券核销率 = 周期内发放的会员券中已核销的张数 / 周期内发放的会员券张数（按发券日期与发券门店归属；"
            "核销统计到数据最新时刻，最近几天发放的券仍在有效期内，其核销率还会上升）",
            ("券核销率", "核销率", "用券率"),
            "ROUND(CAST(COUNT(c.redeemed_at) AS NUMERIC) / NULLIF(COUNT(*), 0), 4)",
            family="coupon",
            rollup_sql="ROUND(CAST(SUM(r.redeemed) AS NUMERIC) / NULLIF(SUM(r.issued), 0), 4)",
        ),
    )
}
COUPON_CONTEXT = ("coupons_issued", "coupons_redeemed")  # shown beside 券核销率: a rate is read with its base


@dataclass(frozen=True)
class Dimension:
    """A grouping column."""

    key: str
    label: str
    sql: str
    aliases: tuple[str, ...]
    needs_items: bool = False


DIMENSIONS: dict[str, Dimension] = {
    d.key: d
    for d in (
        Dimension("day", "日期", f"CAST({LOCAL} AS DATE)", ("按天", "每天", "每日", "趋势", "逐日", "日趋势")),
        Dimension("week", "周", f"CAST(DATE_TRUNC('week', {LOCAL}) AS DATE)", ("按周", "每周", "周趋势")),
        Dimension("store", "门店", "s.name", ("门店", "各店", "分店", "店铺")),
        Dimension("city", "城市", "s.city", ("城市", "各城市")),
        Dimension("channel", "渠道", "o.channel", ("渠道", "线上线下", "外卖")),
        Dimension("member_level", "会员等级", "m.level", ("会员等级", "等级")),
        Dimension("category", "品类", "i.category", ("品类", "类目", "分类"), needs_items=True),
    )
}


@dataclass(frozen=True)
class Source:
    """Where a family of metrics is computed: a base table (timestamps) or a daily rollup (China dates)."""

    table: str
    joins: str
    time: str
    daily: bool
    dims: dict[str, str]


def _week(day: str) -> str:
    return f"CAST(DATE_TRUNC('week', {day}) AS DATE)"


ORDERS = Source(
    "retail.orders",
    "retail.orders AS o JOIN retail.stores AS s ON s.id = o.store_id LEFT JOIN retail.members AS m ON m.id = o.member_id",
    "o.paid_at",
    False,
    {d.key: d.sql for d in DIMENSIONS.values()},
)
SALES_ROLLUP = Source(
    f"retail.{SALES_ROLLUP_TABLE}",
    f"retail.{SALES_ROLLUP_TABLE} AS r JOIN retail.stores AS s ON s.id = r.store_id",
    "r.day",
    True,
    {
        "day": "r.day",
        "week": _week("CAST(r.day AS TIMESTAMP)"),
        "store": "s.name",
        "city": "s.city",
        "channel": "r.channel",
        # 0 stands for walk-in guests in the rollup; the base tables give NULL (no member).
        "member_level": "NULLIF(r.member_level, 0)",
    },
)
COUPONS = Source(
    "retail.member_coupons",
    "retail.member_coupons AS c JOIN retail.stores AS s ON s.id = c.store_id JOIN retail.members AS m ON m.id = c.member_id",
    "c.issued_at",
    False,
    {
        "day": "CAST(c.issued_at AT TIME ZONE 'Asia/Shanghai' AS DATE)",
        "week": _week("c.issued_at AT TIME ZONE 'Asia/Shanghai'"),
        "store": "s.name",
        "city": "s.city",
        "member_level": "m.level",
    },
)
COUPON_ROLLUP = Source(
    f"retail.{COUPON_ROLLUP_TABLE}",
    f"retail.{COUPON_ROLLUP_TABLE} AS r JOIN retail.stores AS s ON s.id = r.store_id",
    "r.day",
    True,
    {
        "day": "r.day",
        "week": _week("CAST(r.day AS TIMESTAMP)"),
        "store": "s.name",
        "city": "s.city",
        "member_level": "r.member_level",
    },
)


@dataclass(frozen=True)
class TimeRange:
    """A half-open [start, end) window in China time, with its label and the window it is compared with."""

    label: str
    start: datetime
    end: datetime
    previous: tuple[datetime, datetime] | None = None
    compare: Literal["环比", "同比"] | None = None


@dataclass
class QuerySpec:
    """What to compute: metrics by dimensions over a time range."""

    metrics: list[str]
    dimensions: list[str] = field(default_factory=list)
    range_text: str = "最近7天"
    compare: Literal["环比", "同比"] | None = None


def sql_time(moment: datetime) -> str:
    """A timestamptz literal in China time."""
    return f"CAST('{moment.astimezone(TZ).isoformat(sep=' ')}' AS TIMESTAMPTZ)"


def resolve_range(text: str, anchor: date, *, compare: Literal["环比", "同比"] | None = None) -> TimeRange:
    """Turn 最近N天 / 这周 / 上周 / 本月 / 上月 / 今天 / 昨天 into a window ending with the data's anchor day."""
    end = day_start(anchor + timedelta(days=1))
    label = "最近7天"
    start = window_start(anchor, 7)
    if match := re.search(r"(?:最近|近|过去)\s*(\d+)\s*天", text):
        days = max(1, min(int(match.group(1)), 366))
        label, start = f"最近{days}天", window_start(anchor, days)
    elif "上周" in text:
        label, start, end = "上周(前第8-14天)", window_start(anchor - timedelta(days=7), 7), window_start(anchor, 7)
    elif "昨天" in text:
        label, start, end = "昨天", day_start(anchor - timedelta(days=1)), day_start(anchor)
    elif "今天" in text:
        label, start = "今天", day_start(anchor)
    elif "上月" in text or "上个月" in text:
        first = anchor.replace(day=1)
        label, start, end = "上月", day_start((first - timedelta(days=1)).replace(day=1)), day_start(first)
    elif "本月" in text or "这个月" in text:
        label, start = "本月", day_start(anchor.replace(day=1))
    elif "这周" in text or "本周" in text:
        label = "本周(最近7天)"
    previous = None
    if compare == "环比":
        previous = (start - (end - start), start)
    elif compare == "同比":
        previous = (start - timedelta(days=364), end - timedelta(days=364))
    return TimeRange(label, start, end, previous, compare)


def parse_question(question: str, *, default_metrics: tuple[str, ...] = ("gmv", "orders", "aov")) -> QuerySpec:
    """Offline reading of a question: metrics, dimensions, time range and comparison by keywords."""
    lowered = question.lower()
    metrics = [m.key for m in METRICS.values() if any(alias in lowered for alias in m.aliases)]
    if "coupon_redemption_rate" in metrics:
        metrics = [*(k for k in COUPON_CONTEXT if k not in metrics), *metrics]
    dimensions = [d.key for d in DIMENSIONS.values() if any(alias in lowered for alias in d.aliases)]
    if "day" in dimensions and "week" in dimensions:
        dimensions.remove("day" if "周" in question and "按天" not in question else "week")
    compare: Literal["环比", "同比"] | None = None
    if "同比" in question:
        compare = "同比"
    elif any(word in question for word in ("环比", "对比", "相比", "下降", "上升", "变化")):
        compare = "环比"
    return QuerySpec(metrics or list(default_metrics), dimensions, question, compare)


@dataclass(frozen=True)
class CompiledQuery:
    """Exact SQL of a spec, with labels for its columns and the tables its figures come from."""

    sql: str
    columns: list[str]
    labels: dict[str, str]
    time_range: TimeRange
    definitions: list[str]
    sources: list[str] = field(default_factory=list)


def sql_date(moment: datetime) -> str:
    """A date literal: the China day of a moment."""
    return f"CAST('{moment.astimezone(TZ).date().isoformat()}' AS DATE)"


def whole_days(window: TimeRange) -> bool:
    """True when every bound of the window (and of its comparison window) is a China midnight."""
    bounds = [window.start, window.end, *(window.previous or ())]
    return all(b.astimezone(TZ).time() == time(0) for b in bounds)


def _bound(source: Source, moment: datetime) -> str:
    return sql_date(moment) if source.daily else sql_time(moment)


def _period_filter(source: Source, window: TimeRange) -> tuple[str | None, str]:
    """The 本期/上期 column (when comparing) and the WHERE condition of a source over the window."""
    col = source.time
    period = None
    if window.previous:
        period = f"CASE WHEN {col} >= {_bound(source, window.start)} THEN '本期' ELSE '上期' END"
    lo = window.previous[0] if window.previous else window.start
    where = f"{col} >= {_bound(source, lo)} AND {col} < {_bound(source, window.end)}"
    if window.previous and window.compare == "同比":
        where = (
            f"(({col} >= {_bound(source, window.start)} AND {col} < {_bound(source, window.end)}) OR "
            f"({col} >= {_bound(source, window.previous[0])} AND {col} < {_bound(source, window.previous[1])}))"
        )
    return period, where


def _aggregate(name: str, source: Source, keys: list[str], window: TimeRange, cols: list[str], joins: str = "") -> str:
    """A CTE grouping a source by the dimension keys (plus the period) with metric columns."""
    period, where = _period_filter(source, window)
    dims = [*([f"{period} AS period"] if period else []), *(f"{source.dims[k]} AS {k}" for k in keys if k != "period")]
    group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))}" if dims else ""
    return f"{name} AS (SELECT {', '.join(dims + cols)} FROM {source.joins}{joins} WHERE {where}{group})"


def compile_query(spec: QuerySpec, anchor: date, *, rollups: RollupStatus = NO_ROLLUPS) -> CompiledQuery:
    """Compile a spec into one SELECT over the retail tables, reading fresh rollups where they answer exactly."""
    window = resolve_range(spec.range_text, anchor, compare=spec.compare)
    dims = [DIMENSIONS[d] for d in spec.dimensions]
    metrics = [METRICS[m] for m in spec.metrics]
    use_items = any(d.needs_items for d in dims)
    keys = [*(["period"] if window.previous else []), *(d.key for d in dims)]
    order_metrics = [m for m in metrics if m.family == "order" and (m.item_sql or not use_items)]
    member_metrics = [m for m in metrics if m.family == "member"]
    coupon_metrics = [m for m in metrics if m.family == "coupon" and all(d.key in COUPONS.dims for d in dims)]
    notes = []
    if len(coupon_metrics) < len([m for m in metrics if m.family == "coupon"]):
        unsupported = "、".join(d.label for d in dims if d.key not in COUPONS.dims)
        notes.append(f"券相关指标不能按{unsupported}拆分（券不属于渠道或品类），已省略")
    if not order_metrics and not member_metrics and not coupon_metrics:
        order_metrics = [METRICS["orders"]]
    days = whole_days(window)
    items = " JOIN retail.order_items AS i ON i.order_id = o.id"
    parts: list[tuple[str, list[Metric]]] = []
    ctes: list[str] = []
    sources: list[str] = []
    if order_metrics:
        rollup = (
            rollups.sales
            and days
            and not use_items
            and all(m.rollup_sql for m in order_metrics)
            and all(k in SALES_ROLLUP.dims for k in keys if k != "period")
        )
        source = SALES_ROLLUP if rollup else ORDERS
        if rollup:
            cols = [f"{m.rollup_sql} AS {m.key}" for m in order_metrics]
            notes.append(rollups.note(SALES_ROLLUP_TABLE))
        else:
            cols = [f"{m.item_sql if use_items else m.sql} AS {m.key}" for m in order_metrics]
        ctes.append(_aggregate("base", source, keys, window, cols, items if use_items else ""))
        parts.append(("base", order_metrics))
        sources.append(source.table)
    if member_metrics:
        ctes += _member_ctes(keys, window, member_metrics, items if use_items else "")
        parts.append(("mem", member_metrics))
        sources.append(ORDERS.table)
    if coupon_metrics:
        rollup = rollups.coupons and days
        source = COUPON_ROLLUP if rollup else COUPONS
        cols = [f"{m.rollup_sql if rollup else m.sql} AS {m.key}" for m in coupon_metrics]
        if rollup:
            notes.append(rollups.note(COUPON_ROLLUP_TABLE))
        ctes.append(_aggregate("cpn", source, keys, window, cols))
        parts.append(("cpn", coupon_metrics))
        sources.append(source.table)
    first = parts[0][0]
    if len(parts) == 1:
        key_of, source_sql = first, first
    elif not keys:
        key_of, source_sql = first, " CROSS JOIN ".join(name for name, _ in parts)
    else:
        # Each part groups its own rows (e.g. coupons by issue day): join them on the union of their keys.
        union = " UNION ".join(
            f"SELECT {', '.join(f'{name}.{k} AS {k}' for k in keys)} FROM {name}" for name, _ in parts
        )
        ctes.append(f"k AS ({union})")
        key_of = "k"
        source_sql = "k" + "".join(
            f" LEFT JOIN {name} ON {' AND '.join(f'{name}.{k} IS NOT DISTINCT FROM k.{k}' for k in keys)}"
            for name, _ in parts
        )
    out_cols = [f"{key_of}.{k} AS {k}" for k in keys]
    out_cols += [f"{name}.{m.key} AS {m.key}" for name, part in parts for m in part]
    order_by = f" ORDER BY {', '.join(f'{key_of}.{k}' for k in keys)}" if keys else ""
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(out_cols)} FROM {source_sql}{order_by}"
    shown = [m for _, part in parts for m in part]
    columns = [*keys, *(m.key for m in shown)]
    labels = {"period": "周期", **{d.key: d.label for d in dims}, **{m.key: m.label for m in shown}}
    return CompiledQuery(
        sql, columns, labels, window, [m.definition for m in shown] + notes, list(dict.fromkeys(sources))
    )


def _member_ctes(keys: list[str], window: TimeRange, metrics: list[Metric], items: str) -> list[str]:
    """Per-member paid orders in the window (mb), first paid order ever (first_paid), and the member metrics."""
    period, where = _period_filter(ORDERS, window)
    dims = [*([f"{period} AS period"] if period else []), *(f"{ORDERS.dims[k]} AS {k}" for k in keys if k != "period")]
    inner = ", ".join(
        [*dims, "o.member_id AS member_id", "COUNT(DISTINCT o.id) AS n", "MIN(o.paid_at) AS first_in_period"]
    )
    inner_group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys) + 1))}"
    member_cols = []
    for m in metrics:
        if m.key == "repeat_rate":
            member_cols.append(
                "ROUND(CAST(COUNT(*) FILTER (WHERE mb.n >= 2) AS NUMERIC) / NULLIF(COUNT(*), 0), 4) AS repeat_rate"
            )
        else:
            member_cols.append("COUNT(*) FILTER (WHERE f.first_paid_at = mb.first_in_period) AS new_customers")
    mgroup = f" GROUP BY {', '.join(f'mb.{k}' for k in keys)}" if keys else ""
    return [
        f"mb AS (SELECT {inner} FROM {ORDERS.joins}{items} WHERE {where} AND {PAID} AND o.member_id IS NOT NULL{inner_group})",
        "first_paid AS (SELECT o.member_id AS member_id, MIN(o.paid_at) AS first_paid_at FROM retail.orders AS o "
        f"WHERE {PAID} AND o.member_id IS NOT NULL GROUP BY o.member_id)",
        f"mem AS (SELECT {', '.join([*(f'mb.{k} AS {k}' for k in keys), *member_cols])} FROM mb "
        f"LEFT JOIN first_paid AS f ON f.member_id = mb.member_id{mgroup})",
    ]


def segment_query(window: TimeRange) -> str:
    """Orders, buyers and basket of returning (>= 2 paid orders before the period) vs new customers, per period."""
    assert window.previous is not None
    cur, prev = sql_time(window.start), sql_time(window.previous[0])
    return (
        "WITH w AS (SELECT o.id AS id, o.member_id AS member_id, o.amount AS amount, o.pay_status AS pay_status, "
        f"CASE WHEN o.paid_at >= {cur} THEN '本期' ELSE '上期' END AS period, "
        f"CASE WHEN o.paid_at >= {cur} THEN {cur} ELSE {prev} END AS period_start "
        f"FROM retail.orders AS o WHERE o.paid_at >= {prev} AND o.paid_at < {sql_time(window.end)}), "
        "seg AS (SELECT w.id AS id, w.member_id AS member_id, w.amount AS amount, w.pay_status AS pay_status, "
        "w.period AS period, CASE WHEN w.member_id IS NULL THEN 'guest' WHEN (SELECT COUNT(*) FROM retail.orders AS p "
        "WHERE p.member_id = w.member_id AND p.pay_status = 1 AND p.paid_at < w.period_start) >= 2 THEN 'returning' "
        "WHEN (SELECT COUNT(*) FROM retail.orders AS p WHERE p.member_id = w.member_id AND p.pay_status = 1 "
        "AND p.paid_at < w.period_start) = 0 THEN 'new' ELSE 'second' END AS customer_type FROM w) "
        "SELECT seg.period AS period, seg.customer_type AS customer_type, "
        "COUNT(*) FILTER (WHERE seg.pay_status = 1) AS orders, "
        "COUNT(DISTINCT seg.member_id) FILTER (WHERE seg.pay_status = 1) AS buyers, "
        "ROUND(SUM(seg.amount) FILTER (WHERE seg.pay_status = 1) / NULLIF(COUNT(*) FILTER (WHERE seg.pay_status = 1), 0), 2) AS aov "
        "FROM seg GROUP BY seg.period, seg.customer_type ORDER BY seg.period, seg.customer_type"
    )


def grounding() -> str:
    """The semantic layer as text for an LLM prompt: tables, metric definitions and their SQL."""
    lines = [
        "表(均在 schema retail): stores(id, name, city); members(id, store_id, name, phone, level, total_spent, created_at);",
        "orders(id, store_id, member_id, paid_at timestamptz, pay_status 1成功/0失败, channel offline|online|delivery, amount 实付, original_amount 原价);",
        "order_items(id, order_id, sku, category, qty, price); member_coupons(id, member_id, store_id 发券门店, campaign, "
        "threshold, value, issued_at, expires_at, redeemed_at 核销时间(未核销为空), order_id 核销订单);",
        "日汇总表(与明细一致，优先使用): daily_store_sales(day 北京日期, store_id, channel, member_level 0=游客, orders 全部订单, "
        "paid_orders 支付成功订单, gmv 支付成功实付, original_amount 支付成功原价); "
        "daily_coupon_stats(day 发券北京日期, store_id, member_level, issued 发券数, redeemed 其中已核销数)。",
        "日期按 Asia/Shanghai 计算: " + f"{LOCAL}。",
        "指标口径:",
    ]
    for m in METRICS.values():
        line = f"- {m.label}({m.key}): {m.definition}" + (f"; SQL: {m.sql}" if m.sql else "")
        if m.rollup:
            line += f"; 汇总表 {m.rollup} 上: {m.rollup_sql}"
        lines.append(line)
    return "\n".join(lines)
