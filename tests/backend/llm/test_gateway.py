"""The gateway against a real OpenAI-compatible / FastGPT stub server: metering, retries, fallback, structure."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from backend.cost.models import LedgerEntry
from backend.llm import CallContext, LLMUnavailable, ProviderConfig, StructuredOutputError
from backend.realtime.models import RealtimeEvent
from tests.fixtures.llm_stub import FastGPTReply, LLMStub, Reply, insert_price, stub_provider

HELLO = [{"role": "user", "content": "你好，这款多少钱？"}]


async def ledger(db) -> list[LedgerEntry]:
    async with db.sessionmaker() as session:
        return list((await session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))).all())


async def test_ledger_cost_equals_tokens_times_price_including_cached_tokens(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    price_id = await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    llm_stub.then(Reply(prompt_tokens=12345, cached_tokens=2345, completion_tokens=678))
    gateway = make_gateway(stub_provider(llm_stub))

    result = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, origin="ai_reply"))

    (row,) = await ledger(db)
    expected = (Decimal(10000) * 2 + Decimal(2345) * Decimal("0.2") + Decimal(678) * 3) / Decimal(1_000_000)
    assert row.cost == expected == Decimal("0.02250300")
    assert (row.input_tokens, row.cached_input_tokens, row.output_tokens) == (12345, 2345, 678)
    assert row.price_id == price_id
    assert row.status == "ok"
    assert result.cost == row.cost
    assert result.request_id == row.request_id
    assert result.offline is False


async def test_a_call_booked_in_background_answers_before_its_ledger_row_is_written(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    llm_stub.then(Reply(prompt_tokens=1000, completion_tokens=100))
    gateway = make_gateway(stub_provider(llm_stub))

    result = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id), book_in_background=True)
    booking_was_running = result.booking is not None and not result.booking.done()
    cost = await result.booked_cost()

    (row,) = await ledger(db)
    assert booking_was_running
    assert cost == result.cost == row.cost == Decimal("0.00230000")


async def test_a_structured_call_cannot_be_booked_in_background(db, make_org, make_gateway, llm_stub: LLMStub) -> None:
    org = await make_org()
    gateway = make_gateway(stub_provider(llm_stub))

    with pytest.raises(ValueError, match="plain text"):
        await gateway.chat(
            HELLO, purpose="classify", context=CallContext(org.id), response_model=Intent, book_in_background=True
        )

    assert llm_stub.requests == []


async def test_ledger_row_carries_the_call_context(db, make_org, make_gateway, llm_stub: LLMStub) -> None:
    org = await make_org()
    user_id, account_id, conversation_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    gateway = make_gateway(stub_provider(llm_stub))

    await gateway.chat(
        HELLO,
        purpose="reply",
        context=CallContext(
            org.id, origin="agent", user_id=user_id, account_id=account_id, conversation_id=conversation_id
        ),
    )

    (row,) = await ledger(db)
    assert (row.organization_id, row.user_id, row.account_id, row.conversation_id) == (
        org.id,
        user_id,
        account_id,
        conversation_id,
    )
    assert (row.origin, row.purpose, row.provider, row.model) == ("agent", "reply", "deepseek", "deepseek-chat")


async def test_fastgpt_detail_response_is_metered_per_module_price(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    await insert_price(db, provider="qwen", model="qwen-turbo", input_rate="0.3", cached_rate="0.06", output_rate="0.6")
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    llm_stub.then(
        FastGPTReply(
            modules=[
                {
                    "moduleName": "问题分类",
                    "moduleType": "classifyQuestion",
                    "model": "qwen-turbo",
                    "inputTokens": 500,
                    "outputTokens": 10,
                },
                {
                    "moduleName": "AI 对话",
                    "moduleType": "chatNode",
                    "model": "deepseek-chat",
                    "inputTokens": 1500,
                    "outputTokens": 200,
                },
            ]
        )
    )
    gateway = make_gateway(
        ProviderConfig(name="fastgpt", kind="fastgpt", base_url=llm_stub.fastgpt_url, api_key="fastgpt-key")
    )

    result = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    (row,) = await ledger(db)
    classify = (Decimal(500) * Decimal("0.3") + Decimal(10) * Decimal("0.6")) / Decimal(1_000_000)
    chat = (Decimal(1500) * 2 + Decimal(200) * 3) / Decimal(1_000_000)
    assert row.cost == classify + chat
    assert (row.provider, row.model, row.input_tokens, row.output_tokens) == ("fastgpt", "deepseek-chat", 2000, 210)
    assert result.text == "您好，这是知识库的回答。"


async def test_fastgpt_request_sends_chat_id_variables_and_detail(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    llm_stub.default = FastGPTReply(modules=[{"moduleType": "chatNode", "model": "deepseek-chat", "tokens": 42}])
    gateway = make_gateway(ProviderConfig(name="fastgpt", kind="fastgpt", base_url=llm_stub.fastgpt_url, api_key="k-1"))

    await gateway.chat(
        HELLO, purpose="reply", context=CallContext(org.id), chat_id="conv-9", variables={"shop": "一号店"}
    )

    body = llm_stub.requests[0]
    assert (body["chatId"], body["variables"], body["detail"], body["stream"]) == (
        "conv-9",
        {"shop": "一号店"},
        True,
        False,
    )
    assert llm_stub.headers[0]["authorization"] == "Bearer k-1"
    assert (await ledger(db))[0].input_tokens == 42


async def test_timeout_is_retried_then_falls_back_and_ledger_shows_every_attempt(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    llm_stub.then(
        Reply(delay=3), Reply(delay=3), Reply(content="备用模型的回答", prompt_tokens=50, completion_tokens=5)
    )
    gateway = make_gateway(
        stub_provider(llm_stub, timeout_seconds=0.3),
        stub_provider(llm_stub, name="qwen", model="qwen-plus"),
        max_retries=1,
    )

    result = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    rows = await ledger(db)
    assert [(r.provider, r.status, r.attempt) for r in rows] == [
        ("deepseek", "timeout", 1),
        ("deepseek", "timeout", 2),
        ("qwen", "fallback", 3),
    ]
    assert len({r.request_id for r in rows}) == 3 and len({r.call_id for r in rows}) == 1
    assert [r.input_tokens for r in rows] == [0, 0, 50]
    assert (result.provider, result.model, result.text, result.attempts) == ("qwen", "qwen-plus", "备用模型的回答", 3)


async def test_server_errors_are_retried_and_only_the_successful_attempt_is_charged(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    llm_stub.then(Reply(status=503), Reply(status=429), Reply(prompt_tokens=1000, completion_tokens=100))
    gateway = make_gateway(stub_provider(llm_stub), max_retries=2)

    result = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    rows = await ledger(db)
    assert [r.status for r in rows] == ["error", "error", "ok"]
    assert [r.cost for r in rows] == [Decimal(0), Decimal(0), Decimal("0.0023")]
    assert "HTTP 503" in (rows[0].error or "") and "HTTP 429" in (rows[1].error or "")
    assert result.cost == Decimal("0.0023")


async def test_client_errors_are_not_retried_but_fall_back(db, make_org, make_gateway, llm_stub: LLMStub) -> None:
    org = await make_org()
    llm_stub.then(Reply(status=401), Reply(content="ok"))
    gateway = make_gateway(
        stub_provider(llm_stub), stub_provider(llm_stub, name="qwen", model="qwen-plus"), max_retries=3
    )

    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    assert [(r.provider, r.status) for r in await ledger(db)] == [("deepseek", "error"), ("qwen", "fallback")]


async def test_exhausted_chain_raises_llm_unavailable_after_metering_each_attempt(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    llm_stub.default = Reply(status=500)
    gateway = make_gateway(stub_provider(llm_stub), max_retries=1)

    with pytest.raises(LLMUnavailable) as raised:
        await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    assert [status for _, status, _ in raised.value.attempts] == ["error", "error"]
    assert len(await ledger(db)) == 2


async def test_offline_fallback_answers_when_configured(db, make_org, make_gateway, llm_stub: LLMStub) -> None:
    org = await make_org()
    llm_stub.default = Reply(status=500)
    gateway = make_gateway(stub_provider(llm_stub), ProviderConfig(name="offline", kind="offline"), max_retries=0)

    result = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    assert result.offline is True
    assert "报价" in result.text
    assert [(r.provider, r.status, r.offline, r.cost) for r in await ledger(db)] == [
        ("deepseek", "error", False, Decimal(0)),
        ("offline", "fallback", True, Decimal(0)),
    ]


class Intent(BaseModel):
    intent: str
    confidence: float


async def test_structured_output_is_repaired_once_with_the_validation_error(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    llm_stub.then(
        Reply(content='{"intent": "price"}'), Reply(content='```json\n{"intent": "price", "confidence": 0.9}\n```')
    )
    gateway = make_gateway(stub_provider(llm_stub, structured="json_schema"))

    result = await gateway.chat(HELLO, purpose="classify", context=CallContext(org.id), response_model=Intent)

    assert result.parsed == Intent(intent="price", confidence=0.9)
    assert llm_stub.requests[0]["response_format"]["type"] == "json_schema"
    assert llm_stub.requests[0]["response_format"]["json_schema"]["schema"]["required"] == ["intent", "confidence"]
    repair_prompt = llm_stub.requests[1]["messages"][-1]["content"]
    assert "confidence" in repair_prompt and "Field required" in repair_prompt
    assert [r.status for r in await ledger(db)] == ["ok", "ok"]
    assert result.attempts == 2 and result.usage.input_tokens == 200


async def test_structured_output_still_invalid_after_repair_raises(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    llm_stub.default = Reply(content="抱歉，我不知道")
    gateway = make_gateway(stub_provider(llm_stub))

    with pytest.raises(StructuredOutputError) as raised:
        await gateway.chat(HELLO, purpose="classify", context=CallContext(org.id), response_model=Intent)

    assert raised.value.text == "抱歉，我不知道"
    assert len(llm_stub.requests) == 2


async def test_json_mode_provider_gets_the_schema_in_a_system_message(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    llm_stub.default = Reply(content='{"intent": "greeting", "confidence": 1}')
    gateway = make_gateway(stub_provider(llm_stub, structured="json_object"))

    result = await gateway.chat(HELLO, purpose="classify", context=CallContext(org.id), response_model=Intent)

    request = llm_stub.requests[0]
    assert request["response_format"] == {"type": "json_object"}
    assert request["messages"][0]["role"] == "system" and '"confidence"' in request["messages"][0]["content"]
    assert result.parsed.intent == "greeting"


async def test_cheap_purposes_use_the_cheap_model_and_generation_the_strong_one(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    gateway = make_gateway(
        stub_provider(llm_stub, model="qwen-max", cheap_model="qwen-turbo"), purpose_models={"agent": "qwen-plus"}
    )

    await gateway.chat(HELLO, purpose="classify", context=CallContext(org.id))
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))
    await gateway.chat(HELLO, purpose="agent", context=CallContext(org.id))
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id), model="deepseek-chat")

    assert [r["model"] for r in llm_stub.requests] == ["qwen-turbo", "qwen-max", "qwen-plus", "deepseek-chat"]


async def test_offline_provider_is_labelled_free_and_estimates_tokens(db, make_org, make_gateway) -> None:
    org = await make_org()
    gateway = make_gateway(ProviderConfig(name="offline", kind="offline"))

    result = await gateway.chat([{"role": "user", "content": "你好"}], purpose="reply", context=CallContext(org.id))

    (row,) = await ledger(db)
    assert result.offline is True and row.offline is True
    assert row.cost == Decimal(0) and row.price_id is None
    assert row.input_tokens == 2 + 4 and row.output_tokens > 0


async def test_calls_between_cost_updates_are_counted_in_the_next_one(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    org = await make_org()
    gateway = make_gateway(stub_provider(llm_stub), update_interval_seconds=1.0)
    for pause in (0.0, 0.0, 1.05):
        await asyncio.sleep(pause)
        await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))
    async with db.sessionmaker() as session:
        updates = await session.scalars(
            select(RealtimeEvent.data)
            .where(RealtimeEvent.organization_id == org.id, RealtimeEvent.type == "cost.updated")
            .order_by(RealtimeEvent.seq)
        )
        assert [update["calls"] for update in updates] == [1, 2]
