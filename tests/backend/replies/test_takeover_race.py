"""A takeover that lands while the AI is writing: the AI's reply is dropped, never sent."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from sqlalchemy import func, select

from backend.replies.models import ReplyDecision
from tests.backend.accounts.support import wait_until
from tests.backend.conversations.support import Workbench
from tests.fixtures.llm_stub import LLMStub, Reply

ROUNDS = 25
LLM_SECONDS = 0.25


@pytest.fixture(autouse=True)
def slow_llm(llm_stub: LLMStub) -> None:
    """Every answer takes LLM_SECONDS."""
    llm_stub.default = Reply(content="这款卫衣 199 元，有 XL 码。", delay=LLM_SECONDS)


def _ai_messages_at_sim(bench: Workbench) -> list[float]:
    return [
        m.sent_at
        for m in bench.sim.state.sent_messages(app_id=bench.remote["appId"], to_wxid=bench.customer)
        if m.content.startswith("这款卫衣")
    ]


async def test_takeover_during_generation_drops_the_ai_reply_every_time(
    workbench: Workbench, llm_stub: LLMStub
) -> None:
    for round_number in range(ROUNDS):
        asked = len(llm_stub.requests)
        await workbench.say(f"卫衣有XL码吗？（第{round_number}次）")

        async def generating(asked: int = asked) -> bool:
            return len(llm_stub.requests) > asked

        await wait_until(generating)
        conversation = await workbench.conversation()
        taken = await workbench.api.post(f"/api/conversations/{conversation.id}/takeover", json={})
        assert taken.status_code == 200, taken.text
        await workbench.settle()
        assert _ai_messages_at_sim(workbench) == []
        released = await workbench.api.post(f"/api/conversations/{conversation.id}/release", json={})
        assert released.status_code == 200, released.text
    async with workbench.db.sessionmaker() as session:
        outcomes = dict(
            (await session.execute(select(ReplyDecision.outcome, func.count()).group_by(ReplyDecision.outcome))).all()
        )
    assert outcomes == {"dropped": ROUNDS}


async def test_takeover_at_random_moments_never_lets_an_ai_reply_out_afterwards(
    workbench: Workbench, llm_stub: LLMStub
) -> None:
    rng = random.Random(7)
    violations = 0
    for round_number in range(ROUNDS):
        await workbench.say(f"卫衣多少钱？（第{round_number}次）")
        await asyncio.sleep(rng.uniform(0.0, LLM_SECONDS * 1.6))
        conversation = await workbench.conversation()
        taken = await workbench.api.post(f"/api/conversations/{conversation.id}/takeover", json={})
        assert taken.status_code == 200, taken.text
        taken_at = time.time()
        await workbench.settle()
        violations += sum(1 for sent_at in _ai_messages_at_sim(workbench) if sent_at > taken_at)
        released = await workbench.api.post(f"/api/conversations/{conversation.id}/release", json={})
        assert released.status_code == 200, released.text
    async with workbench.db.sessionmaker() as session:
        sent = await session.scalar(
            select(func.count()).select_from(ReplyDecision).where(ReplyDecision.outcome == "sent")
        )
    assert violations == 0
    assert sent == len(_ai_messages_at_sim(workbench))
