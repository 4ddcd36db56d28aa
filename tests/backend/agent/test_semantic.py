"""Semantic layer: questions read offline into metrics, dimensions and exact time windows."""

from __future__ import annotations

from datetime import date, datetime

from backend.agent.semantic import QuerySpec, compile_query, parse_question, resolve_range
from backend.agent.sql_guard import guard_sql
from backend.agent.timeframe import TZ

ANCHOR = date(2026, 11, 22)


def test_report_question_reads_metrics_store_and_day() -> None:
    spec = parse_question("最近7天各门店GMV、客单价、订单数，按天趋势")
    assert set(spec.metrics) == {"gmv", "aov", "orders"}
    assert spec.dimensions == ["day", "store"]
    assert spec.compare is None


def test_decline_question_compares_with_the_previous_period() -> None:
    spec = parse_question("这周复购率下降了，可能原因是什么？")
    assert spec.metrics == ["repeat_rate"]
    assert spec.compare == "环比"


def test_last_seven_days_ends_with_the_anchor_day_in_china_time() -> None:
    window = resolve_range("最近7天", ANCHOR)
    assert window.start == datetime(2026, 11, 16, tzinfo=TZ)
    assert window.end == datetime(2026, 11, 23, tzinfo=TZ)


def test_month_over_month_window_precedes_the_current_one() -> None:
    window = resolve_range("最近30天", ANCHOR, compare="环比")
    assert window.previous == (datetime(2026, 9, 24, tzinfo=TZ), datetime(2026, 10, 24, tzinfo=TZ))


def test_last_week_is_the_seven_days_before_the_last_seven() -> None:
    window = resolve_range("上周", ANCHOR)
    assert (window.start, window.end) == (datetime(2026, 11, 9, tzinfo=TZ), datetime(2026, 11, 16, tzinfo=TZ))


def test_every_metric_and_dimension_compiles_to_sql_the_guard_accepts() -> None:
    metrics = ["gmv", "orders", "aov", "pay_success_rate", "buyers", "discount_rate", "repeat_rate", "new_customers"]
    for dimension in ["day", "week", "store", "city", "channel", "member_level"]:
        compiled = compile_query(QuerySpec(metrics, [dimension], "最近7天", "环比"), ANCHOR)
        verdict = guard_sql(compiled.sql, max_rows=1000)
        assert verdict.tables


def test_category_dimension_uses_item_amounts() -> None:
    compiled = compile_query(QuerySpec(["gmv"], ["category"], "本月"), ANCHOR)
    assert "SUM(i.qty * i.price)" in compiled.sql
