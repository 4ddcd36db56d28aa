"""Semantic layer: named metrics, dimensions and time ranges compiled to exact SQL over the retail schema."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from backend.agent.timeframe import TZ, day_start, window_start

LOCAL = "o.paid_at AT TIME ZONE 'Asia/Shanghai'"
PAID = "o.pay_status = 1"


@dataclass(frozen=True)
class Metric:
    """A named metric with its definition (口径) and SQL."""

    key: str
    label: str
    definition: str
    aliases: tuple[str, ...]
    sql: str = ""
    item_sql: str = ""
    family: Literal["order", "member"] = "order"


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
        ),
        Metric(
            "orders",
            "订单数",
            "订单数 = 支付成功的订单笔数",
            ("订单数", "订单量", "单量", "成交笔数"),
            f"COUNT(*) FILTER (WHERE {PAID})",
            f"COUNT(DISTINCT o.id) FILTER (WHERE {PAID})",
        ),
        Metric(
            "aov",
            "客单价",
            "客单价 = GMV / 支付成功订单数（按笔计算的平均实付金额）",
            ("客单价", "平均订单金额", "笔单价", "aov"),
            f"ROUND(SUM(o.amount) FILTER (WHERE {PAID}) / NULLIF(COUNT(*) FILTER (WHERE {PAID}), 0), 2)",
            f"ROUND(SUM(i.qty * i.price) FILTER (WHERE {PAID}) / NULLIF(COUNT(DISTINCT o.id) FILTER (WHERE {PAID}), 0), 2)",
        ),
        Metric(
            "pay_success_rate",
            "支付成功率",
            "支付成功率 = 支付成功订单数 / 发起支付的订单总数",
            ("支付成功率", "支付失败", "成功率"),
            f"ROUND(CAST(COUNT(*) FILTER (WHERE {PAID}) AS NUMERIC) / NULLIF(COUNT(*), 0), 4)",
            f"ROUND(CAST(COUNT(DISTINCT o.id) FILTER (WHERE {PAID}) AS NUMERIC) / NULLIF(COUNT(DISTINCT o.id), 0), 4)",
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
    )
}


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
    """Exact SQL of a spec, with labels for its columns."""

    sql: str
    columns: list[str]
    labels: dict[str, str]
    time_range: TimeRange
    definitions: list[str]


def compile_query(spec: QuerySpec, anchor: date) -> CompiledQuery:
    """Compile a spec into one SELECT over the retail tables."""
    window = resolve_range(spec.range_text, anchor, compare=spec.compare)
    dims = [DIMENSIONS[d] for d in spec.dimensions]
    metrics = [METRICS[m] for m in spec.metrics]
    use_items = any(d.needs_items for d in dims)
    dim_cols = [(d.key, d.sql) for d in dims]
    if window.previous:
        period = f"CASE WHEN o.paid_at >= {sql_time(window.start)} THEN '本期' ELSE '上期' END"
        dim_cols = [("period", period), *dim_cols]
    lo = window.previous[0] if window.previous else window.start
    where = f"o.paid_at >= {sql_time(lo)} AND o.paid_at < {sql_time(window.end)}"
    if window.previous and window.compare == "同比":
        where = (
            f"((o.paid_at >= {sql_time(window.start)} AND o.paid_at < {sql_time(window.end)}) OR "
            f"(o.paid_at >= {sql_time(window.previous[0])} AND o.paid_at < {sql_time(window.previous[1])}))"
        )
    joins = "JOIN retail.stores AS s ON s.id = o.store_id LEFT JOIN retail.members AS m ON m.id = o.member_id"
    if use_items:
        joins += " JOIN retail.order_items AS i ON i.order_id = o.id"
    keys = [key for key, _ in dim_cols]
    select_dims = [f"{sql} AS {key}" for key, sql in dim_cols]
    group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}" if keys else ""
    order_metrics = [m for m in metrics if m.family == "order" and (m.item_sql or not use_items)]
    member_metrics = [m for m in metrics if m.family == "member"]
    ctes: list[str] = []
    if order_metrics or not member_metrics:
        order_metrics = order_metrics or [METRICS["orders"]]
        cols = [f"{m.item_sql if use_items else m.sql} AS {m.key}" for m in order_metrics]
        ctes.append(
            f"base AS (SELECT {', '.join(select_dims + cols)} FROM retail.orders AS o {joins} WHERE {where}{group})"
        )
    if member_metrics:
        inner = ", ".join(
            [*select_dims, "o.member_id AS member_id", "COUNT(DISTINCT o.id) AS n", "MIN(o.paid_at) AS first_in_period"]
        )
        inner_group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(keys) + 1))}"
        ctes.append(
            f"mb AS (SELECT {inner} FROM retail.orders AS o {joins} WHERE {where} AND {PAID} "
            f"AND o.member_id IS NOT NULL{inner_group})"
        )
        ctes.append(
            "first_paid AS (SELECT o.member_id AS member_id, MIN(o.paid_at) AS first_paid_at FROM retail.orders AS o "
            f"WHERE {PAID} AND o.member_id IS NOT NULL GROUP BY o.member_id)"
        )
        member_cols = []
        for m in member_metrics:
            if m.key == "repeat_rate":
                member_cols.append(
                    "ROUND(CAST(COUNT(*) FILTER (WHERE mb.n >= 2) AS NUMERIC) / NULLIF(COUNT(*), 0), 4) AS repeat_rate"
                )
            else:
                member_cols.append("COUNT(*) FILTER (WHERE f.first_paid_at = mb.first_in_period) AS new_customers")
        mgroup = f" GROUP BY {', '.join(f'mb.{k}' for k in keys)}" if keys else ""
        ctes.append(
            f"mem AS (SELECT {', '.join([*(f'mb.{k} AS {k}' for k in keys), *member_cols])} FROM mb "
            f"LEFT JOIN first_paid AS f ON f.member_id = mb.member_id{mgroup})"
        )
    has_base = ctes[0].startswith("base")
    out_cols = [f"{'base' if has_base else 'mem'}.{k} AS {k}" for k in keys]
    if has_base:
        out_cols += [f"base.{m.key} AS {m.key}" for m in order_metrics]
    out_cols += [f"mem.{m.key} AS {m.key}" for m in member_metrics]
    if has_base and member_metrics:
        on = " AND ".join(f"mem.{k} IS NOT DISTINCT FROM base.{k}" for k in keys) or "TRUE"
        source = f"base LEFT JOIN mem ON {on}"
    else:
        source = "base" if has_base else "mem"
    first = "base" if has_base else "mem"
    order_by = f" ORDER BY {', '.join(f'{first}.{k}' for k in keys)}" if keys else ""
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(out_cols)} FROM {source}{order_by}"
    shown = [*(m for m in order_metrics if has_base), *member_metrics]
    columns = [*keys, *(m.key for m in shown)]
    labels = {"period": "周期", **{d.key: d.label for d in dims}, **{m.key: m.label for m in shown}}
    return CompiledQuery(sql, columns, labels, window, [m.definition for m in shown])


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
        "order_items(id, order_id, sku, category, qty, price)。日期按 Asia/Shanghai 计算: " + f"{LOCAL}。",
        "指标口径:",
    ]
    lines += [f"- {m.label}({m.key}): {m.definition}" + (f"; SQL: {m.sql}" if m.sql else "") for m in METRICS.values()]
    return "\n".join(lines)
