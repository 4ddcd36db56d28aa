"""With an OpenAI-compatible stub: the graph corrects bad SQL and its calls land in the ledger (acceptance 3)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from backend.auth.models import Role
from backend.cost.models import LedgerEntry
from tests.fixtures.llm_stub import LLMStub, Reply, stub_provider

GOOD_SQL = (
    "```sql\nSELECT s.name AS store, SUM(o.amount) AS gmv FROM retail.orders AS o "
    "JOIN retail.stores AS s ON s.id = o.store_id WHERE o.pay_status = 1 GROUP BY s.name ORDER BY s.name\n```"
)
WRONG_COLUMN = "SELECT s.name AS store, SUM(o.total) AS gmv FROM retail.orders AS o JOIN retail.stores AS s ON s.id = o.store_id GROUP BY s.name"


def use_stub(app, make_gateway, stub: LLMStub) -> None:
    app.other_asgi_app.state.llm_gateway = make_gateway(stub_provider(stub))


async def test_wrong_column_is_fed_back_and_the_corrected_sql_answers(
    client: httpx.AsyncClient, app, login, make_gateway, llm_stub: LLMStub, retail_engine
) -> None:
    use_stub(app, make_gateway, llm_stub)
    llm_stub.then(Reply("report"), Reply(WRONG_COLUMN), Reply(GOOD_SQL))
    manager = await login(Role.manager)
    response = await client.post("/api/agent/chat", json={"query": "各门店GMV"}, headers=manager.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["intent"] == "report"
    assert len(body["report"]["rows"]) == 10
    assert body["debug"]["sql_attempts"] == 2
    assert body["debug"]["route"]["method"] == "llm"
    assert body["debug"]["model"] == "deepseek-chat"
    retry_prompt = llm_stub.requests[2]["messages"][-1]["content"]
    assert "unknown_column" in retry_prompt and "total" in retry_prompt


async def test_database_error_is_fed_back_too(
    client: httpx.AsyncClient, app, login, make_gateway, llm_stub: LLMStub, retail_engine
) -> None:
    use_stub(app, make_gateway, llm_stub)
    llm_stub.then(Reply("report"), Reply("SELECT 1 / 0 AS x FROM retail.stores"), Reply(GOOD_SQL))
    manager = await login(Role.manager)
    body = (await client.post("/api/agent/chat", json={"query": "各门店GMV"}, headers=manager.headers)).json()
    assert body["debug"]["sql_attempts"] == 2
    assert "division by zero" in llm_stub.requests[2]["messages"][-1]["content"]
    assert len(body["report"]["rows"]) == 10


async def test_correction_stops_after_three_rounds(
    client: httpx.AsyncClient, app, login, make_gateway, llm_stub: LLMStub, retail_engine
) -> None:
    use_stub(app, make_gateway, llm_stub)
    llm_stub.then(Reply("report"), *[Reply(WRONG_COLUMN)] * 4)
    manager = await login(Role.manager)
    body = (await client.post("/api/agent/chat", json={"query": "各门店GMV"}, headers=manager.headers)).json()
    assert body["debug"]["sql_attempts"] == 4
    assert body["report"] is None
    assert "total" in body["answer"]


async def test_agent_llm_calls_are_in_the_cost_ledger_with_origin_agent(
    client: httpx.AsyncClient, app, db, login, make_gateway, llm_stub: LLMStub, retail_engine
) -> None:
    use_stub(app, make_gateway, llm_stub)
    llm_stub.then(Reply("report", prompt_tokens=50, completion_tokens=1), Reply(WRONG_COLUMN), Reply(GOOD_SQL))
    manager = await login(Role.manager)
    body = (await client.post("/api/agent/chat", json={"query": "各门店GMV"}, headers=manager.headers)).json()
    async with db.sessionmaker() as session:
        entries = (await session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))).all()
    assert [e.origin for e in entries] == ["agent"] * 3
    assert {e.user_id for e in entries} == {manager.user.id}
    assert {e.organization_id for e in entries} == {manager.user.organization_id}
    assert body["debug"]["tokens"]["input"] == sum(e.input_tokens for e in entries)
