"""gen_campaign_plan: a strict CampaignPlan with budget and duration from the question, target size by SQL."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig

from backend.agent.executor import QueryFailed, data_anchor, run_readonly
from backend.agent.runtime import deps_of, timed
from backend.agent.schemas import CampaignPlan, Kpi, Offer, TargetSegment
from backend.agent.semantic import sql_time
from backend.agent.sql_guard import SqlRejected, guard_sql
from backend.agent.state import AgentState
from backend.agent.timeframe import day_start, window_start

DEFAULT_BUDGET = 30000.0
DEFAULT_DAYS = 7
CN_DIGITS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
PLAN_SYSTEM = (
    "你是零售营销策划。只输出 JSON，必须符合给定 schema；预算与周期以用户给出的为准"
    "（默认 budget=30000, duration_days=7）；offer 必须给出 threshold/value/max_redemptions。"
)


def _number(text: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text in CN_DIGITS:
        return float(CN_DIGITS[text])
    return None


def parse_budget(question: str) -> float:
    """预算3万 / 预算 30000 元 / 5千 -> yuan; default 30000."""
    match = re.search(
        r"(?:预算|花费|经费|费用)\s*[:：]?\s*(\d+(?:\.\d+)?|[一两二三四五六七八九十])\s*(万|千|k|w)?", question, re.I
    )
    if not match:
        match = re.search(r"(\d+(?:\.\d+)?)\s*(万|千)\s*(?:元|块)?", question)
    if not match:
        return DEFAULT_BUDGET
    value = _number(match.group(1)) or DEFAULT_BUDGET
    unit = (match.group(2) or "").lower()
    return value * {"万": 10000, "w": 10000, "千": 1000, "k": 1000}.get(unit, 1)


def parse_duration(question: str) -> int:
    """7天 / 两周 / 一个月 -> days; default 7."""
    if match := re.search(r"(\d+|[一两二三四五六七八九十])\s*(天|日|周|星期|个月|月)", question):
        value = _number(match.group(1)) or DEFAULT_DAYS
        unit = match.group(2)
        days = value * (7 if unit in ("周", "星期") else 30 if unit in ("个月", "月") else 1)
        return max(1, min(int(days), 90))
    return DEFAULT_DAYS


def segment_sql(anchor: Any) -> tuple[str, TargetSegment]:
    """High-value returning members not seen in the last 7 days: rules, and the SQL that counts them."""
    start, recent, end = window_start(anchor, 90), window_start(anchor, 7), day_start(anchor + timedelta(days=1))
    sql = (
        "SELECT COUNT(*) AS target_size, ROUND(AVG(t.avg_amount), 2) AS avg_order_amount FROM ("
        "SELECT o.member_id AS member_id, AVG(o.amount) AS avg_amount FROM retail.orders AS o "
        f"WHERE o.pay_status = 1 AND o.member_id IS NOT NULL AND o.paid_at >= {sql_time(start)} AND o.paid_at < {sql_time(end)} "
        f"GROUP BY o.member_id HAVING COUNT(*) >= 3 AND MAX(o.paid_at) < {sql_time(recent)}) AS t"
    )
    segment = TargetSegment(
        definition="高价值老客：近90天支付成功订单不少于3笔、且最近7天未下单的会员",
        rules=["近90天支付成功订单数 >= 3", "最近7天无支付成功订单", "排除近24小时新注册会员"],
    )
    return sql, segment


def risk_controls(knowledge: list[dict[str, Any]]) -> list[str]:
    """Fixed guard rails plus the risk rules retrieved from the KB."""
    controls = ["每人限领1张，同一手机号/设备限领1张", "预算消耗达80%预警，达100%自动停止发券", "不可与其他优惠券叠加"]
    for hit in knowledge:
        if "risk" in hit["tags"]:
            title = hit["title"].split(" / ")[-1]
            rule = f"{title}（{hit['ref']}）"
            if rule not in controls:
                controls.append(rule)
    return controls


def offline_plan(
    question: str, *, aov: float, size: int | None, knowledge: list[dict[str, Any]], sql: str, segment: TargetSegment
) -> CampaignPlan:
    """A full_reduction plan sized to the budget: threshold ~1.2x basket, value ~12% of threshold."""
    budget, days = parse_budget(question), parse_duration(question)
    threshold = float(math.ceil(max(aov, 30.0) * 1.2 / 10) * 10)
    value = float(max(5, round(threshold * 0.12)))
    segment = segment.model_copy(update={"estimated_size": size})
    return CampaignPlan(
        goal=f"提升高价值老客复购率（{days}天，预算{budget:,.0f}元）",
        duration_days=days,
        budget=budget,
        target_segment=segment,
        offer=Offer(
            type="full_reduction", threshold=threshold, value=value, max_redemptions=max(1, int(budget // value))
        ),
        channels=["wechat", "sms"],
        kpi=Kpi(
            primary="repeat_rate",
            targets=["目标人群活动期复购率较活动前提升 5 个百分点", "券核销率 >= 15%", "活动 ROI >= 3"],
        ),
        risk_controls=risk_controls(knowledge),
        sql_preview=sql,
    )


@timed("gen_campaign_plan")
async def gen_campaign_plan(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Plan from rules (offline) or the LLM, always with the parsed budget/duration and the SQL-estimated size."""
    deps = deps_of(config)
    question = state["user_query"]
    anchor = await data_anchor(deps.engine)
    sql, segment = segment_sql(anchor)
    size: int | None = None
    aov = 90.0
    debug: dict[str, Any] = {}
    try:
        verdict = guard_sql(sql, max_rows=1)
        result = await run_readonly(deps.engine, verdict.sql, timeout_ms=deps.timeout_ms, max_rows=1)
        row = result.rows[0]
        size, aov = int(row["target_size"]), float(row["avg_order_amount"] or aov)
        debug["sql"] = {"target_size": verdict.sql}
    except (SqlRejected, QueryFailed) as exc:
        debug["target_size_error"] = str(exc)
    plan = offline_plan(question, aov=aov, size=size, knowledge=state.get("knowledge", []), sql=sql, segment=segment)
    calls: list[dict[str, Any]] = []
    if deps.llm is not None:
        messages = [
            {"role": "system", "content": PLAN_SYSTEM},
            {"role": "user", "content": f"{question}\n参考方案：{plan.model_dump_json()}"},
        ]
        try:
            reply = await deps.llm.complete(messages, purpose="agent_plan", response_model=CampaignPlan)
            calls.append(reply.record("gen_campaign_plan"))
            drafted = CampaignPlan.model_validate(reply.parsed)
            plan = drafted.model_copy(
                update={
                    "budget": plan.budget,
                    "duration_days": plan.duration_days,
                    "target_segment": drafted.target_segment.model_copy(update={"estimated_size": size}),
                    "sql_preview": sql,
                }
            )
            debug["plan_source"] = "llm"
        except Exception as exc:  # any LLM or validation failure keeps the rule-based plan
            debug["plan_source"] = f"rules ({exc.__class__.__name__})"
    plan_json = plan.model_dump(mode="json")
    answer = (
        f"已生成活动方案：{plan.goal}。目标人群约 {size if size is not None else '未知'} 人；"
        f"满 {plan.offer.threshold:g} 减 {plan.offer.value:g}，最多核销 {plan.offer.max_redemptions} 张；"
        f"渠道 {', '.join(plan.channels)}。确认后点击「执行上架」发布优惠券。"
    )
    return {"plan": plan_json, "answer": answer, "debug": debug, "llm_calls": calls}
