"""Prices: effective-dated rows added by admins and finance; a change prices only later calls."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select

from backend.auth.models import Role
from backend.core.db import utcnow
from backend.cost.models import LedgerEntry
from backend.llm import CallContext
from tests.fixtures.llm_stub import LLMStub, Reply, insert_price, stub_provider

HELLO = [{"role": "user", "content": "有优惠吗"}]


async def test_a_price_change_prices_only_later_calls_and_the_report_spans_it(
    client: httpx.AsyncClient, db, login, make_gateway, llm_stub: LLMStub
) -> None:
    finance = await login(Role.finance)
    org_id = finance.user.organization_id
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    llm_stub.default = Reply(prompt_tokens=1000, cached_tokens=500, completion_tokens=100)
    gateway = make_gateway(stub_provider(llm_stub))
    before = await gateway.chat(HELLO, purpose="reply", context=CallContext(org_id))

    changed = await client.post(
        "/api/cost/prices",
        headers=finance.headers,
        json={
            "provider": "deepseek",
            "model": "deepseek-chat",
            "input_per_million": "4",
            "cached_input_per_million": "1",
            "output_per_million": "8",
        },
    )
    after = await gateway.chat(HELLO, purpose="reply", context=CallContext(org_id))
    summary = (await client.get("/api/cost/summary", params={"group_by": "model"}, headers=finance.headers)).json()

    assert changed.status_code == 201, changed.text
    assert before.cost == Decimal("0.0014")  # 500 x 2 + 500 x 0.2 + 100 x 3 per 1M
    assert after.cost == Decimal("0.0033")  # 500 x 4 + 500 x 1 + 100 x 8 per 1M
    async with db.sessionmaker() as session:
        costs = (await session.scalars(select(LedgerEntry.cost).order_by(LedgerEntry.id))).all()
    assert costs == [Decimal("0.0014"), Decimal("0.0033")]
    assert Decimal(summary["total"]["cost"]) == Decimal("0.0047")


async def test_a_price_cannot_take_effect_in_the_past(client: httpx.AsyncClient, login) -> None:
    admin = await login(Role.admin)
    response = await client.post(
        "/api/cost/prices",
        headers=admin.headers,
        json={
            "provider": "qwen",
            "model": "qwen-plus",
            "input_per_million": "1",
            "output_per_million": "2",
            "effective_from": (utcnow() - timedelta(days=2)).isoformat(),
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "price_in_past"


async def test_price_list_marks_the_row_in_force_and_hides_other_organisations_prices(
    client: httpx.AsyncClient, db, login
) -> None:
    finance = await login(Role.finance)
    stranger = await login(Role.finance)
    await insert_price(
        db, provider="qwen", model="qwen-max", input_rate="2.4", cached_rate="0.48", output_rate="9.6", days_ago=30
    )
    await insert_price(
        db, provider="qwen", model="qwen-max", input_rate="2", cached_rate="0.4", output_rate="8", days_ago=1
    )
    await insert_price(
        db,
        provider="qwen",
        model="qwen-max",
        input_rate="1",
        cached_rate="0.1",
        output_rate="1",
        organization_id=stranger.user.organization_id,
    )

    items = (await client.get("/api/cost/prices", params={"model": "qwen-max"}, headers=finance.headers)).json()[
        "items"
    ]

    assert [(Decimal(i["input_per_million"]), i["current"]) for i in items] == [(2, True), (Decimal("2.4"), False)]


async def test_an_organisation_price_overrides_the_list_price_for_that_organisation_only(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    negotiated, other = await make_org(), await make_org()
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    await insert_price(
        db,
        provider="deepseek",
        model="deepseek-chat",
        input_rate="1",
        cached_rate="0.1",
        output_rate="1",
        organization_id=negotiated.id,
        days_ago=10,
    )
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub))

    cheap = await gateway.chat(HELLO, purpose="reply", context=CallContext(negotiated.id))
    listed = await gateway.chat(HELLO, purpose="reply", context=CallContext(other.id))

    assert (cheap.cost, listed.cost) == (Decimal("0.001"), Decimal("0.002"))


async def test_price_list_filter_with_a_nul_character_is_422(client: httpx.AsyncClient, login) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: PostgreSQL refused the NUL in the filter (503).
    finance = await login(Role.finance)
    response = await client.get("/api/cost/prices", params={"model": "qwen\x00"}, headers=finance.headers)
    assert response.status_code == 422
    assert "model" in response.json()["error"]["message"]


async def test_a_nul_character_in_a_new_price_is_422_at_the_edge(client: httpx.AsyncClient, login) -> None:
    finance = await login(Role.finance)
    response = await client.post(
        "/api/cost/prices",
        headers=finance.headers,
        json={
            "provider": "qwen",
            "model": "qwen-max",
            "input_per_million": "2",
            "output_per_million": "6",
            "note": "\x00",
        },
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
