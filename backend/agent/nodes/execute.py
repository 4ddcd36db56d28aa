"""execute_campaign: publish the plan's coupon through the CRM, idempotently."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from backend.agent.runtime import deps_of, timed
from backend.agent.schemas import CampaignPlan
from backend.agent.state import AgentState


@timed("execute_campaign")
async def execute_campaign(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Create and publish the coupon of the plan given with the request."""
    from backend.agent.service import execute_plan  # the service imports the graph, which imports this node

    plan = CampaignPlan.model_validate(state["plan_in"])
    execution = await execute_plan(deps_of(config), plan=plan)
    if execution.error:
        answer = f"执行失败：{execution.error}（幂等键 {execution.idempotency_key[:12]}…，可重试）"
    elif execution.replayed:
        answer = f"该方案已执行过，返回首次回执：优惠券 {execution.coupon_id} 状态 {execution.publish_status}"
    else:
        answer = f"已创建并上架优惠券 {execution.coupon_id}，状态 {execution.publish_status}"
    return {"execution": execution.model_dump(mode="json"), "answer": answer, "plan": state["plan_in"]}
