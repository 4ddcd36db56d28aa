"""The model timing out under an AI reply: the fallback provider answers; when every provider fails, people do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.config import Settings
from backend.cost.models import LedgerEntry
from tests.backend.conversations.support import Workbench
from tests.fixtures.llm_stub import LLMStub, Reply


@pytest.fixture
def settings(settings: Settings, llm_stub: LLMStub) -> Settings:
    """Calls time out after 1 s, no retries, and a second provider (another model on the stub) as fallback."""
    impatient = settings.model_copy(deep=True)
    impatient.llm.timeout_seconds, impatient.llm.max_retries = 1.0, 0
    impatient.llm.fallback = [
        {"kind": "openai", "base_url": llm_stub.base_url, "api_key": "sk-test", "model": "qwen-plus"}
    ]
    return impatient


async def _ledger_statuses(workbench: Workbench) -> list[tuple[str, str]]:
    async with workbench.db.sessionmaker() as session:
        rows = await session.execute(select(LedgerEntry.model, LedgerEntry.status).order_by(LedgerEntry.id))
    return [(model, status) for model, status in rows.all()]


async def test_a_timing_out_model_is_replaced_by_the_fallback_and_the_customer_is_answered(
    workbench: Workbench, llm_stub: LLMStub
) -> None:
    llm_stub.then(Reply(delay=3.0), Reply(content="有的，XL 码有货。"))

    await workbench.say("卫衣有XL码吗？")

    assert await workbench.wait_sent(1) == ["有的，XL 码有货。"]
    await workbench.settle()  # the answer's ledger row is written beside the send
    assert await _ledger_statuses(workbench) == [("deepseek-chat", "timeout"), ("qwen-plus", "fallback")]


async def test_when_every_provider_times_out_people_take_over_with_the_reason(
    workbench: Workbench, llm_stub: LLMStub
) -> None:
    llm_stub.default = Reply(delay=3.0)

    await workbench.say("卫衣有XL码吗？")

    conversation = await workbench.wait_mode("pending_human")
    assert "AI 暂时无法回答" in conversation.mode_reason
    assert workbench.sent_to() == []
    assert [status for _, status in await _ledger_statuses(workbench)] == ["timeout", "timeout"]
