"""Agent services: running the graph for a question, and idempotent coupon execution of a plan."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.agent.graph import get_graph
from backend.agent.models import ActionLog, Campaign
from backend.agent.runtime import AgentDeps
from backend.agent.schemas import CampaignPlan, Execution
from backend.agent.state import AgentState
from backend.core.db import utcnow
from backend.crm.client import CrmError
from backend.crm.schemas import CouponCreate

# A pending log younger than this is another request still talking to the CRM; older ones crashed and are retried.
IN_FLIGHT = timedelta(seconds=60)


def idempotency_key(plan: CampaignPlan) -> str:
    """sha256 of the canonical JSON of the plan (sorted keys, no spaces)."""
    canonical = json.dumps(plan.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _receipt(key: str, response: dict[str, Any] | None, error: str | None, *, replayed: bool) -> Execution:
    response = response or {}
    return Execution(
        idempotency_key=key,
        coupon_id=response.get("coupon_id"),
        publish_status=response.get("publish_status"),
        error=error,
        replayed=replayed,
    )


async def execute_plan(deps: AgentDeps, *, plan: CampaignPlan) -> Execution:
    """Create and publish the plan's coupon once: log before the CRM call, update after, replay on repeats."""
    key = idempotency_key(plan)
    async with deps.sessionmaker() as session:
        log = await session.scalar(select(ActionLog).where(ActionLog.idempotency_key == key).with_for_update())
        if log is not None and log.status == "success":
            return _receipt(key, log.response_json, None, replayed=True)
        # Read before any commit: committing expires the row's attributes.
        response: dict[str, Any] = {}
        if log is None:
            log = ActionLog(
                idempotency_key=key,
                action_type="create_publish_coupon",
                request_json=plan.model_dump(mode="json"),
                response_json=None,
                status="pending",
            )
            session.add(log)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return _receipt(key, None, "the same plan is being executed right now; retry shortly", replayed=True)
        elif log.status == "pending" and utcnow() - log.updated_at < IN_FLIGHT:
            return _receipt(key, None, "the same plan is being executed right now; retry shortly", replayed=True)
        else:
            response = dict(log.response_json or {})
            log.status = "pending"
            await session.commit()
        if deps.crm is None:
            raise RuntimeError("no CRM client configured")
        try:
            if not response.get("coupon_id"):
                start = utcnow()
                coupon = CouponCreate(
                    name=plan.goal[:120],
                    type=plan.offer.type,
                    threshold=Decimal(str(plan.offer.threshold)),
                    value=Decimal(str(plan.offer.value)),
                    max_redemptions=plan.offer.max_redemptions,
                    start_at=start,
                    end_at=start + timedelta(days=plan.duration_days),
                )
                created = await deps.crm.create_coupon(coupon, idempotency_key=key)
                response["coupon_id"] = created.coupon_id
                # Keep the coupon id at once, so a failed publish is retried without creating a second coupon.
                log.response_json = dict(response)
                await session.commit()
            published = await deps.crm.publish_coupon(int(response["coupon_id"]), idempotency_key=key)
            response["publish_status"] = published.status
        except CrmError as exc:
            log.status, log.error_message, log.response_json = "failed", str(exc), dict(response)
            await session.commit()
            return _receipt(key, response, str(exc), replayed=False)
        log.status, log.error_message, log.response_json = "success", None, dict(response)
        session.add(
            Campaign(
                name=plan.goal[:120],
                goal=plan.goal,
                budget=Decimal(str(plan.budget)),
                duration_days=plan.duration_days,
                plan_json=plan.model_dump(mode="json"),
                coupon_id=response["coupon_id"],
            )
        )
        await session.commit()
    return _receipt(key, response, None, replayed=False)


async def run_agent(deps: AgentDeps, *, query: str, plan: CampaignPlan | None = None) -> AgentState:
    """Run the graph for one question; the final state carries answer, report/plan/execution and debug."""
    started = time.perf_counter()
    initial: AgentState = {
        "user_query": query,
        "plan_in": plan.model_dump(mode="json") if plan else None,
        "attempts": 0,
        "debug": {},
        "timings_ms": {},
        "llm_calls": [],
    }
    state: AgentState = await get_graph().ainvoke(initial, config={"configurable": {"deps": deps}})
    state["timings_ms"] = {**state.get("timings_ms", {}), "total": round((time.perf_counter() - started) * 1000, 2)}
    return state


def debug_of(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    """The debug block of an answer: route, SQL, guard verdicts, timings, model and tokens."""
    calls = state.get("llm_calls", [])
    debug = dict(state.get("debug", {}))
    debug.update(
        {
            "intent": state.get("intent"),
            "timings_ms": state.get("timings_ms", {}),
            "model": calls[-1]["model"] if calls else deps.model_name,
            "llm_calls": calls,
            "tokens": {
                "input": sum(c["input_tokens"] for c in calls),
                "output": sum(c["output_tokens"] for c in calls),
            },
            "sql_attempts": state.get("attempts", 0),
        }
    )
    return debug
