"""Finance reports: summaries from rollups, the ledger with filters and pages, CSV export, roles and isolation."""

from __future__ import annotations

import base64
import csv
import io
import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from backend.auth.models import Role
from backend.cost.models import LedgerEntry
from backend.llm import CallContext
from backend.realtime.models import RealtimeEvent
from tests.fixtures.llm_stub import LLMStub, Reply, insert_price, stub_provider

HELLO = [{"role": "user", "content": "发货要几天？"}]
ACCOUNT_A, ACCOUNT_B = uuid.uuid4(), uuid.uuid4()
CONVERSATION = uuid.uuid4()


@pytest.fixture
async def spend(db, make_gateway, llm_stub: LLMStub, login):
    """A finance login whose organisation made 3 deepseek calls (0.002 CNY each) and 1 qwen call (0.0006 CNY)."""
    finance = await login(Role.finance)
    org_id = finance.user.organization_id
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    await insert_price(db, provider="qwen", model="qwen-turbo", input_rate="0.3", cached_rate="0.06", output_rate="0.6")
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    deepseek = make_gateway(stub_provider(llm_stub))
    qwen = make_gateway(stub_provider(llm_stub, name="qwen", model="qwen-turbo"))
    user = finance.user.id
    await deepseek.chat(
        HELLO, purpose="reply", context=CallContext(org_id, account_id=ACCOUNT_A, conversation_id=CONVERSATION)
    )
    await deepseek.chat(
        HELLO, purpose="reply", context=CallContext(org_id, account_id=ACCOUNT_A, conversation_id=CONVERSATION)
    )
    await deepseek.chat(HELLO, purpose="agent", context=CallContext(org_id, origin="agent", user_id=user))
    await qwen.chat(HELLO, purpose="summary", context=CallContext(org_id, origin="summary", account_id=ACCOUNT_B))
    return finance


def by_key(body: dict) -> dict[str | None, tuple[int, Decimal]]:
    return {item["key"]: (item["calls"], Decimal(item["cost"])) for item in body["items"]}


async def test_summary_by_model_comes_from_the_rollups(client: httpx.AsyncClient, spend) -> None:
    response = await client.get("/api/cost/summary", params={"group_by": "model"}, headers=spend.headers)

    body = response.json()
    assert by_key(body) == {"deepseek-chat": (3, Decimal("0.006")), "qwen-turbo": (1, Decimal("0.0003"))}
    assert Decimal(body["total"]["cost"]) == Decimal("0.0063")
    assert body["total"]["input_tokens"] == 4000


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("provider", {"deepseek": 3, "qwen": 1}),
        ("origin", {"ai_reply": 2, "agent": 1, "summary": 1}),
        ("account", {str(ACCOUNT_A): 2, str(ACCOUNT_B): 1, None: 1}),
        ("conversation", {str(CONVERSATION): 2}),
    ],
)
async def test_summary_groups_calls(client: httpx.AsyncClient, spend, group_by: str, expected: dict) -> None:
    response = await client.get("/api/cost/summary", params={"group_by": group_by}, headers=spend.headers)
    assert {key: calls for key, (calls, _) in by_key(response.json()).items()} == expected


async def test_summary_by_user_and_day(client: httpx.AsyncClient, spend) -> None:
    by_user = (await client.get("/api/cost/summary", params={"group_by": "user"}, headers=spend.headers)).json()
    by_day = (await client.get("/api/cost/summary", params={"group_by": "day"}, headers=spend.headers)).json()

    assert by_key(by_user)[str(spend.user.id)] == (1, Decimal("0.002"))
    assert [(item["key"], item["calls"]) for item in by_day["items"]] == [(by_day["to"], 4)]


async def test_ledger_pages_newest_first_with_a_cursor(client: httpx.AsyncClient, spend) -> None:
    first = (await client.get("/api/cost/ledger", params={"limit": 3}, headers=spend.headers)).json()
    second = (
        await client.get("/api/cost/ledger", params={"limit": 3, "cursor": first["next_cursor"]}, headers=spend.headers)
    ).json()

    assert [item["model"] for item in first["items"]] == ["qwen-turbo", "deepseek-chat", "deepseek-chat"]
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    assert second["items"][0]["origin"] == "ai_reply"


async def test_ledger_filters_by_account_and_origin(client: httpx.AsyncClient, spend) -> None:
    by_account = await client.get("/api/cost/ledger", params={"account_id": str(ACCOUNT_A)}, headers=spend.headers)
    by_origin = await client.get(
        "/api/cost/ledger", params={"origin": "summary", "provider": "qwen"}, headers=spend.headers
    )

    assert len(by_account.json()["items"]) == 2
    assert [item["model"] for item in by_origin.json()["items"]] == ["qwen-turbo"]


async def test_csv_export_streams_every_row_with_a_bom(client: httpx.AsyncClient, spend) -> None:
    response = await client.get("/api/cost/export.csv", headers=spend.headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 4
    assert sum(Decimal(row["cost"]) for row in rows) == Decimal("0.0063")


async def test_another_organisations_finance_user_sees_none_of_it(client: httpx.AsyncClient, spend, login) -> None:
    stranger = await login(Role.finance)

    summary = (await client.get("/api/cost/summary", params={"group_by": "model"}, headers=stranger.headers)).json()
    ledger = (await client.get("/api/cost/ledger", headers=stranger.headers)).json()
    exported = await client.get("/api/cost/export.csv", headers=stranger.headers)

    assert summary["items"] == [] and Decimal(summary["total"]["cost"]) == 0
    assert ledger["items"] == []
    assert len(exported.content.decode("utf-8-sig").strip().splitlines()) == 1


@pytest.mark.parametrize(
    "path", ["/api/cost/summary", "/api/cost/ledger", "/api/cost/export.csv", "/api/cost/prices", "/api/cost/budgets"]
)
async def test_sales_gets_403_on_cost_routes(client: httpx.AsyncClient, login, path: str) -> None:
    sales = await login(Role.sales)
    response = await client.get(path, headers=sales.headers)
    assert response.status_code == 403


async def test_each_metered_call_publishes_cost_updated(db, spend) -> None:
    async with db.sessionmaker() as session:
        events = (
            await session.scalars(
                select(RealtimeEvent).where(
                    RealtimeEvent.organization_id == spend.user.organization_id, RealtimeEvent.type == "cost.updated"
                )
            )
        ).all()
    assert sum(Decimal(event.data["cost"]) for event in events) == Decimal("0.0063")


async def test_ledger_rows_cannot_be_updated(db, spend) -> None:
    async with db.sessionmaker() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text("update cost_ledger set cost = 0"))
        await session.rollback()
        assert await session.scalar(select(LedgerEntry.cost).limit(1)) != 0


CONVERSATIONS = [uuid.uuid4() for _ in range(3)]


@pytest.fixture
async def many_conversations(db, make_gateway, llm_stub: LLMStub, login):
    """A finance login whose organisation paid 0.002 CNY a call: 3 calls in the first conversation, 2 in the
    second, 1 in the third (all on ACCOUNT_A), and one agent call outside any conversation."""
    finance = await login(Role.finance)
    org_id = finance.user.organization_id
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub))
    for calls, conversation in zip((3, 2, 1), CONVERSATIONS, strict=True):
        for _ in range(calls):
            context = CallContext(org_id, account_id=ACCOUNT_A, conversation_id=conversation)
            await gateway.chat(HELLO, purpose="reply", context=context)
    await gateway.chat(HELLO, purpose="agent", context=CallContext(org_id, origin="agent", user_id=finance.user.id))
    return finance


async def test_top_conversations_list_the_limit_by_cost_and_sum_up_the_rest(
    client: httpx.AsyncClient, many_conversations
) -> None:
    response = await client.get(
        "/api/cost/summary", params={"group_by": "conversation", "limit": 2}, headers=many_conversations.headers
    )

    body = response.json()
    assert [(item["key"], item["calls"]) for item in body["items"]] == [
        (str(CONVERSATIONS[0]), 3),
        (str(CONVERSATIONS[1]), 2),
    ]
    assert [Decimal(item["cost"]) for item in body["items"]] == [Decimal("0.006"), Decimal("0.004")]
    assert body["items"][0]["input_tokens"] == 3000
    assert body["groups"] == 3
    assert body["rest"]["calls"] == 1 and Decimal(body["rest"]["cost"]) == Decimal("0.002")
    assert body["rest"]["input_tokens"] == 1000
    # The total still counts the call made outside any conversation.
    assert body["total"]["calls"] == 7 and Decimal(body["total"]["cost"]) == Decimal("0.014")


async def test_top_conversations_default_to_100_and_leave_no_rest_when_all_fit(
    client: httpx.AsyncClient, many_conversations
) -> None:
    response = await client.get(
        "/api/cost/summary", params={"group_by": "conversation"}, headers=many_conversations.headers
    )

    body = response.json()
    assert len(body["items"]) == 3 and body["groups"] == 3
    assert body["rest"]["calls"] == 0 and Decimal(body["rest"]["cost"]) == 0


@pytest.mark.parametrize(
    ("group_by", "top_key", "groups", "rest_calls"),
    [("account", "account", 2, 1), ("user", "user", 2, 1)],
)
async def test_top_accounts_and_users_with_a_limit_report_groups_and_rest(
    client: httpx.AsyncClient, many_conversations, group_by: str, top_key: str, groups: int, rest_calls: int
) -> None:
    response = await client.get(
        "/api/cost/summary", params={"group_by": group_by, "limit": 1}, headers=many_conversations.headers
    )

    body = response.json()
    expected_top = str(ACCOUNT_A) if top_key == "account" else None
    # Accounts: ACCOUNT_A (6 calls) beats the agent call without one; users: the 6 calls without a user lead.
    assert [item["key"] for item in body["items"]] == [expected_top]
    assert body["groups"] == groups
    assert body["rest"]["calls"] == rest_calls
    assert Decimal(body["rest"]["cost"]) + sum(Decimal(item["cost"]) for item in body["items"]) == Decimal(
        body["total"]["cost"]
    )


async def test_top_groupings_cap_the_limit_at_1000_and_others_keep_theirs(
    client: httpx.AsyncClient, many_conversations
) -> None:
    headers = many_conversations.headers
    too_many = await client.get(
        "/api/cost/summary", params={"group_by": "conversation", "limit": 1001}, headers=headers
    )
    by_model = await client.get("/api/cost/summary", params={"group_by": "model", "limit": 2000}, headers=headers)

    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == "limit_too_large"
    assert by_model.status_code == 200
    assert by_model.json()["groups"] is None and by_model.json()["rest"] is None


async def test_summary_by_day_and_model_has_one_item_per_day_and_model(client: httpx.AsyncClient, spend) -> None:
    response = await client.get("/api/cost/summary", params={"group_by": "day,model"}, headers=spend.headers)

    body = response.json()
    assert [(item["key"], item["sub_key"], item["calls"]) for item in body["items"]] == [
        (body["to"], "deepseek-chat", 3),
        (body["to"], "qwen-turbo", 1),
    ]
    assert sum(Decimal(item["cost"]) for item in body["items"]) == Decimal(body["total"]["cost"])


async def test_summary_up_to_the_first_calendar_day_starts_there_instead_of_failing(
    client: httpx.AsyncClient, login
) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: the default "29 days before `to`" overflowed date (500).
    finance = await login(Role.finance)
    response = await client.get("/api/cost/summary", params={"to": "0001-01-05"}, headers=finance.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["from"], response.json()["to"]) == ("0001-01-01", "0001-01-05")


@pytest.mark.parametrize("path", ["/api/cost/ledger", "/api/cost/export.csv"])
@pytest.mark.parametrize(
    "params",
    [{"model": "deepseek\x00"}, {"origin": "\x00"}, {"to": "9999-12-31T23:00:00-05:00"}],
    ids=["nul-model", "nul-origin", "instant-past-9999"],
)
async def test_ledger_filters_the_database_cannot_take_are_422_before_any_query(
    client: httpx.AsyncClient, login, path: str, params: dict[str, str]
) -> None:
    # Found by the OpenAPI fuzz: the ledger answered 503, and the CSV export, which queries after its 200
    # has started streaming, broke the response off mid-way.
    finance = await login(Role.finance)
    response = await client.get(path, params=params, headers=finance.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert next(iter(params)) in response.json()["error"]["message"]


async def test_a_ledger_cursor_with_an_id_beyond_bigint_is_400(client: httpx.AsyncClient, login) -> None:
    finance = await login(Role.finance)
    cursor = base64.urlsafe_b64encode(f"2026-01-01T00:00:00+00:00|{2**63}".encode()).decode()
    response = await client.get("/api/cost/ledger", params={"cursor": cursor}, headers=finance.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
