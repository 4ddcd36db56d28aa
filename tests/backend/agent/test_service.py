"""Coupon execution: logged before the CRM call, a failed publish retried without creating a second coupon."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from backend.agent.runtime import AgentDeps
from backend.agent.schemas import CampaignPlan
from backend.agent.service import execute_plan, idempotency_key
from backend.crm.client import CrmClient

PLAN = CampaignPlan.model_validate(
    {
        "goal": "促复购",
        "duration_days": 7,
        "budget": 30000,
        "target_segment": {"definition": "高价值老客", "rules": ["近90天 >= 3 单"]},
        "offer": {"type": "full_reduction", "threshold": 140, "value": 17, "max_redemptions": 1764},
        "channels": ["wechat"],
        "kpi": {"primary": "repeat_rate", "targets": ["核销率 >= 15%"]},
        "risk_controls": ["每人限领1张"],
    }
)


class FlakyCrm:
    """A CRM whose first publish fails with 503."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.publish_failures = 1

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path.endswith("/publish"):
            if self.publish_failures:
                self.publish_failures -= 1
                return httpx.Response(503, text="busy")
            return httpx.Response(200, json={"coupon_id": 41, "status": "published"})
        return httpx.Response(201, json={"coupon_id": 41, "status": "draft"})


def deps_with(engine: AsyncEngine, crm: FlakyCrm) -> AgentDeps:
    client = CrmClient("http://crm.test", transport=httpx.MockTransport(crm))
    return AgentDeps(engine=engine, sessionmaker=async_sessionmaker(engine), crm=client)


def test_key_is_the_same_for_equal_plans_and_differs_when_the_plan_changes() -> None:
    same = CampaignPlan.model_validate(PLAN.model_dump())
    changed = PLAN.model_copy(update={"budget": 20000})
    assert idempotency_key(same) == idempotency_key(PLAN) != idempotency_key(changed)


async def test_failed_publish_is_logged_and_retried_without_a_second_coupon(
    retail_engine: AsyncEngine, clean_actions
) -> None:
    crm = FlakyCrm()
    deps = deps_with(retail_engine, crm)
    first = await execute_plan(deps, plan=PLAN)
    assert first.error and "503" in first.error and first.coupon_id == 41
    async with retail_engine.connect() as conn:
        status = await conn.scalar(text("SELECT status FROM retail.action_logs"))
    assert status == "failed"
    second = await execute_plan(deps, plan=PLAN)
    assert (second.error, second.publish_status, second.coupon_id) == (None, "published", 41)
    assert crm.paths == ["/mock/crm/coupons", "/mock/crm/coupons/41/publish", "/mock/crm/coupons/41/publish"]
