"""route_intent: LLM classification with a keyword fallback."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from backend.agent.prompts import ROUTE_SYSTEM
from backend.agent.runtime import deps_of, timed
from backend.agent.state import AgentState
from backend.llm import LLMError

INTENTS = ("report", "diagnose", "plan", "execute")
EXECUTE_WORDS = ("执行", "上架", "创建", "发布")
DIAGNOSE_WORDS = ("下降", "下滑", "原因", "怎么回事", "诊断", "为什么", "异常", "变差", "降低")
PLAN_WORDS = ("活动", "优惠券", "预算", "策划", "方案", "促销", "营销")


# Metric names that contain a plan word: asking for a figure is not asking for a campaign.
METRIC_PHRASES = ("优惠券核销", "优惠券发放", "优惠券使用")


def keyword_intent(query: str, *, has_plan: bool) -> str:
    """The fallback rules: execute (with a plan), diagnose, plan, else report."""
    if has_plan and any(word in query for word in EXECUTE_WORDS):
        return "execute"
    if any(word in query for word in DIAGNOSE_WORDS):
        return "diagnose"
    unmetric = query
    for phrase in METRIC_PHRASES:
        unmetric = unmetric.replace(phrase, "")
    if any(word in unmetric for word in PLAN_WORDS):
        return "plan"
    return "report"


@timed("route_intent")
async def route_intent(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Decide the branch of the graph."""
    deps = deps_of(config)
    query = state["user_query"]
    has_plan = state.get("plan_in") is not None
    fallback = keyword_intent(query, has_plan=has_plan)
    if fallback == "execute" or deps.llm is None:
        return {"intent": fallback, "debug": {"route": {"intent": fallback, "method": "keyword"}}}
    messages = [{"role": "system", "content": ROUTE_SYSTEM}, {"role": "user", "content": query}]
    try:
        reply = await deps.llm.complete(messages, purpose="classify")
    except LLMError as exc:
        route = {"intent": fallback, "method": "keyword", "llm_error": exc.message}
        return {"intent": fallback, "debug": {"route": route}}
    word = reply.text.strip().strip("`'\". ").lower()
    valid = word in INTENTS and (word != "execute" or has_plan)
    intent = word if valid else fallback
    route = {"intent": intent, "method": "llm" if valid else "keyword", "raw": reply.text[:200]}
    return {"intent": intent, "debug": {"route": route}, "llm_calls": [reply.record("route_intent")]}
