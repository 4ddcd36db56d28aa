"""Semantic layer: questions read offline into metrics, dimensions and exact time windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from backend.agent.rollups import RollupStatus
from backend.agent.semantic import (
    METRICS,
    QuerySpec,
    compile_query,
    grounding,
    parse_question,
    resolve_range,
    whole_days,
)
from backend.agent.sql_guard import guard_sql
from backend.agent.timeframe import TZ

ANCHOR = date(2026, 11, 22)
FRESH = RollupStatus(sales=True, coupons=True, refreshed_at=datetime(2026, 11, 22, 12, tzinfo=UTC))


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


def test_coupon_rate_question_reads_the_rate_with_its_counts_per_store() -> None:
    spec = parse_question("最近7天各门店券核销率")
    assert spec.metrics == ["coupons_issued", "coupons_redeemed", "coupon_redemption_rate"]
    assert spec.dimensions == ["store"]


def test_coupon_metrics_have_a_written_definition() -> None:
    definition = METRICS["coupon_redemption_rate"].definition
    assert definition.startswith("券核销率 = 周期内发放的会员券中已核销的张数 / 周期内发放的会员券张数")


def test_coupon_metrics_split_by_channel_are_left_out_with_a_note() -> None:
    compiled = compile_query(QuerySpec(["gmv", "coupon_redemption_rate"], ["channel"]), ANCHOR)
    assert compiled.columns == ["channel", "gmv"]
    assert any("不能按渠道拆分" in d for d in compiled.definitions)


def test_fresh_rollups_answer_sum_metrics_by_rollup_dimensions() -> None:
    compiled = compile_query(QuerySpec(["gmv", "orders", "aov"], ["day", "store"]), ANCHOR, rollups=FRESH)
    assert compiled.sources == ["retail.daily_store_sales"]
    assert "FROM retail.daily_store_sales AS r" in compiled.sql
    assert any("retail.daily_store_sales" in d for d in compiled.definitions)


def test_without_fresh_rollups_the_base_tables_are_used() -> None:
    compiled = compile_query(QuerySpec(["gmv"], ["store"]), ANCHOR, rollups=RollupStatus(sales=False, coupons=True))
    assert compiled.sources == ["retail.orders"]


def test_distinct_member_metrics_never_come_from_a_rollup() -> None:
    compiled = compile_query(QuerySpec(["gmv", "buyers"], ["store"]), ANCHOR, rollups=FRESH)
    assert compiled.sources == ["retail.orders"]


def test_category_dimension_is_not_in_the_rollup() -> None:
    compiled = compile_query(QuerySpec(["gmv"], ["category"]), ANCHOR, rollups=FRESH)
    assert compiled.sources == ["retail.orders"]


def test_coupon_metrics_come_from_the_coupon_rollup_when_fresh() -> None:
    compiled = compile_query(QuerySpec(["coupon_redemption_rate"], ["store"]), ANCHOR, rollups=FRESH)
    assert compiled.sources == ["retail.daily_coupon_stats"]


def test_a_window_not_made_of_whole_days_cannot_use_a_rollup() -> None:
    window = resolve_range("最近7天", ANCHOR)
    shifted = replace(window, start=window.start + timedelta(hours=1))
    assert whole_days(window) and not whole_days(shifted)


def test_every_metric_and_dimension_compiles_with_fresh_rollups_to_sql_the_guard_accepts() -> None:
    for dimension in ["day", "week", "store", "city", "channel", "member_level", "category"]:
        compiled = compile_query(QuerySpec(list(METRICS), [dimension], "最近7天", "环比"), ANCHOR, rollups=FRESH)
        assert guard_sql(compiled.sql, max_rows=1000).tables


def test_every_metric_states_whether_it_comes_from_a_rollup() -> None:
    from_rollups = {key for key, metric in METRICS.items() if metric.rollup}
    assert from_rollups == {
        "gmv",
        "orders",
        "aov",
        "pay_success_rate",
        "discount_rate",
        "coupons_issued",
        "coupons_redeemed",
        "coupon_redemption_rate",
    }
    assert "汇总表 retail.daily_coupon_stats" in grounding()
