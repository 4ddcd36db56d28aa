"""Routes under /api/agent: chat (report, diagnose, plan, execute) and execute (publish a plan's coupon)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.agent import service
from backend.agent.deps import AgentUser, agent_deps, crm_client
from backend.agent.schemas import ChatIn, ChatOut, ExecuteIn, ExecuteOut, Execution
from backend.core.ratelimit import per_user_limit

router = APIRouter(prefix="/api/agent", tags=["agent"])
# AGENT_RATE_PER_MINUTE requests per user, chat and execute together; 429 with Retry-After beyond.
AgentRateLimit = per_user_limit("agent", lambda settings: settings.security.agent_rate_per_minute)


@router.post("/chat", response_model=ChatOut, dependencies=[AgentRateLimit])
async def chat(body: ChatIn, user: AgentUser, request: Request) -> ChatOut:
    """Answer a manager's question through the agent graph."""
    async with crm_client(request.app) as crm:
        deps = agent_deps(request.app, user, crm)
        state = await service.run_agent(deps, query=body.query, plan=body.plan)
    return ChatOut(
        intent=state["intent"],
        answer=state.get("answer", ""),
        report=state.get("report"),
        plan=state.get("plan"),
        evidence=state.get("evidence"),
        execution=state.get("execution"),
        debug=service.debug_of(state, deps),
    )


@router.post("/execute", response_model=ExecuteOut, dependencies=[AgentRateLimit])
async def execute(body: ExecuteIn, user: AgentUser, request: Request) -> ExecuteOut:
    """Create and publish the plan's coupon; the same plan again returns the first receipt."""
    async with crm_client(request.app) as crm:
        deps = agent_deps(request.app, user, crm)
        state = await service.run_agent(deps, query="执行上架", plan=body.plan)
    return ExecuteOut(execution=Execution.model_validate(state["execution"]), debug=service.debug_of(state, deps))
