"""The reply pipeline with a real OpenAI-compatible stub: grounding, placeholder, failures hand over to people."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from backend.auth.models import Role
from backend.replies.checks import UNSURE_MARKER
from backend.replies.models import ReplyDecision
from tests.backend.conversations.support import Workbench
from tests.fixtures.llm_stub import LLMStub, Reply, add_budget


async def _policy(bench: Workbench, login: Any, settings: dict[str, Any]) -> None:
    manager = await login(Role.manager, organization=bench.organization)
    async with httpx.AsyncClient(base_url=bench.server.url, headers=manager.headers) as api:
        assert (await api.put("/api/conversations/policy", json={"settings": settings})).status_code == 200


async def _decision(bench: Workbench) -> ReplyDecision:
    await bench.settle()
    async with bench.db.sessionmaker() as session:
        decision = await session.scalar(select(ReplyDecision).order_by(ReplyDecision.id.desc()))
    assert decision is not None
    return decision


async def test_the_prompt_carries_persona_knowledge_and_history(workbench: Workbench, llm_stub: LLMStub) -> None:
    await workbench.say("面膜多少钱？")
    await workbench.wait_sent(1)
    system = llm_stub.requests[-1]["messages"][0]["content"]
    assert "销售顾问" in system and "补水面膜" in system
    assert llm_stub.requests[-1]["messages"][-1] == {"role": "user", "content": "面膜多少钱？"}
    decision = await _decision(workbench)
    assert (decision.outcome, decision.model, decision.input_tokens) == ("sent", "deepseek-chat", 100)


async def test_a_slow_model_sends_the_placeholder_first(workbench: Workbench, llm_stub: LLMStub, login) -> None:
    await _policy(workbench, login, {"placeholder_enabled": True, "placeholder_after_seconds": 0.2})
    llm_stub.default = Reply(content="有的，卫衣有 XL 码。", delay=0.8)
    await workbench.say("卫衣有XL码吗？")
    assert await workbench.wait_sent(2) == ["请稍等，我帮您查一下～", "有的，卫衣有 XL 码。"]


async def test_a_failing_model_hands_the_conversation_to_people(workbench: Workbench, llm_stub: LLMStub) -> None:
    llm_stub.default = Reply(status=500)
    await workbench.say("运动鞋偏大还是偏小？")
    conversation = await workbench.wait_mode("pending_human")
    decision = await _decision(workbench)
    assert decision.outcome == "handoff" and "AI 暂时无法回答" in conversation.mode_reason
    assert workbench.sent_to() == []


async def test_a_used_up_ai_budget_hands_the_next_conversation_turn_to_people(
    workbench: Workbench, llm_stub: LLMStub
) -> None:
    # The first answer uses the quota up.
    await add_budget(
        workbench.db, workbench.organization.id, quota_kind="tokens", quota=Decimal(50), hard_action="stop_ai"
    )
    await workbench.say("面膜多少钱？")
    await workbench.wait_sent(1)
    await workbench.settle()

    await workbench.say("有优惠吗？")

    conversation = await workbench.wait_mode("pending_human")
    decision = await _decision(workbench)
    assert decision.outcome == "handoff" and "AI 预算已用完" in conversation.mode_reason
    assert len(llm_stub.requests) == 1 and len(workbench.sent_to()) == 1


async def test_an_unsure_model_answers_and_queues_for_people(workbench: Workbench, llm_stub: LLMStub) -> None:
    llm_stub.default = Reply(content=f"这个我帮您确认一下。{UNSURE_MARKER}")
    await workbench.say("可以开发票吗？")
    await workbench.wait_mode("pending_human")
    assert await workbench.wait_sent(1) == ["这个我帮您确认一下。"]


async def test_a_discount_beyond_policy_is_never_sent(workbench: Workbench, llm_stub: LLMStub) -> None:
    llm_stub.default = Reply(content="给您打5折，今天就下单吧！")
    await workbench.say("能便宜点吗？")
    conversation = await workbench.wait_mode("pending_human")
    decision = await _decision(workbench)
    assert decision.outcome == "blocked" and "discount_policy" in conversation.mode_reason
    assert workbench.sent_to() == []
