"""Budgets: windows computed from the ledger rollups, one alert per window and level, hard-limit actions."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, text

from backend.auth.models import Role
from backend.cost import budgets
from backend.cost.models import LedgerEntry
from backend.cost.periods import today
from backend.llm import BudgetCheck, BudgetExceeded, CallContext
from backend.realtime.models import RealtimeEvent
from tests.fixtures.llm_stub import LLMStub, Reply, add_budget, insert_price, stub_provider

HELLO = [{"role": "user", "content": "在吗"}]


async def alerts(db, organization_id: uuid.UUID) -> list[dict]:
    async with db.sessionmaker() as session:
        events = await session.scalars(
            select(RealtimeEvent)
            .where(RealtimeEvent.organization_id == organization_id, RealtimeEvent.type == "cost.alert")
            .order_by(RealtimeEvent.seq)
        )
        return [event.data for event in events]


@pytest.fixture
async def priced(db) -> None:
    """deepseek-chat at 2 CNY per 1M input tokens and 3 per 1M output tokens."""
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )


async def test_crossing_the_soft_threshold_emits_exactly_one_alert_per_window(
    db, make_org, make_gateway, llm_stub: LLMStub, priced
) -> None:
    org = await make_org()
    await add_budget(db, org.id, quota=Decimal("0.02"))
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)  # 0.002 CNY a call
    gateway = make_gateway(stub_provider(llm_stub))

    for _ in range(9):  # 0.018 = 90%: past the 80% threshold for three calls
        await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    (alert,) = await alerts(db, org.id)
    assert (alert["level"], alert["used"], alert["quota"]) == ("soft", "0.01600000", "0.02000000")


async def test_reaching_the_quota_raises_one_hard_alert_after_the_soft_one(
    db, make_org, make_gateway, llm_stub: LLMStub, priced
) -> None:
    org = await make_org()
    await add_budget(db, org.id, quota=Decimal("0.004"))
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub))

    for _ in range(4):
        await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    assert [(a["level"], a["action"]) for a in await alerts(db, org.id)] == [("soft", "alert"), ("hard", "alert")]


async def test_a_new_window_raises_its_alert_again(db, make_org) -> None:
    org = await make_org()
    budget = await add_budget(db, org.id, period="daily")
    async with db.sessionmaker() as session:
        first = await budgets.raise_alerts(
            session, [budgets.BudgetStatus(budget, date(2026, 11, 20), Decimal("0.009"))]
        )
        repeat = await budgets.raise_alerts(
            session, [budgets.BudgetStatus(budget, date(2026, 11, 20), Decimal("0.0095"))]
        )
        next_day = await budgets.raise_alerts(
            session, [budgets.BudgetStatus(budget, date(2026, 11, 21), Decimal("0.009"))]
        )
        await session.commit()

    assert (len(first), len(repeat), len(next_day)) == (1, 0, 1)


async def test_stop_ai_refuses_ai_replies_but_not_the_agent(
    db, make_org, make_gateway, llm_stub: LLMStub, priced
) -> None:
    org = await make_org()
    budget = await add_budget(db, org.id, quota_kind="tokens", quota=Decimal(1000), hard_action="stop_ai")
    llm_stub.default = Reply(prompt_tokens=900, completion_tokens=100)
    gateway = make_gateway(stub_provider(llm_stub))
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, origin="ai_reply"))

    with pytest.raises(BudgetExceeded) as refused:
        await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, origin="ai_reply"))
    await gateway.chat(HELLO, purpose="agent", context=CallContext(org.id, origin="agent"))

    assert (refused.value.action, refused.value.budget_id) == ("stop_ai", budget.id)
    assert len(llm_stub.requests) == 2


async def test_pause_sop_refuses_sop_calls_but_not_ai_replies(
    db, make_org, make_gateway, llm_stub: LLMStub, priced
) -> None:
    org = await make_org()
    await add_budget(db, org.id, quota=Decimal("0.002"), hard_action="pause_sop", period="daily")
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub))
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, origin="sop"))

    with pytest.raises(BudgetExceeded) as refused:
        await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, origin="sop"))
    reply = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, origin="ai_reply"))

    assert refused.value.action == "pause_sop"
    assert reply.text


async def test_downgrade_model_switches_to_the_cheaper_model(
    db, make_org, make_gateway, llm_stub: LLMStub, priced
) -> None:
    org = await make_org()
    await add_budget(db, org.id, quota=Decimal("0.002"), hard_action="downgrade_model", downgrade_model="deepseek-lite")
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub, model="deepseek-chat"))

    first = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))
    second = await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    assert [r["model"] for r in llm_stub.requests] == ["deepseek-chat", "deepseek-lite"]
    assert (first.downgraded, second.downgraded, second.model) == (False, True, "deepseek-lite")


async def test_a_call_follows_the_budget_check_its_caller_made_beforehand(
    db, make_org, make_gateway, llm_stub: LLMStub, priced
) -> None:
    org = await make_org()
    await add_budget(db, org.id, quota=Decimal("0.002"), hard_action="downgrade_model", downgrade_model="deepseek-lite")
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub, model="deepseek-chat"))
    checked_before = await gateway.check_budgets(CallContext(org.id))
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))  # uses the quota up

    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id), budget=checked_before)
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    assert checked_before == BudgetCheck(downgrade=None, budgeted=True)
    assert [r["model"] for r in llm_stub.requests] == ["deepseek-chat", "deepseek-chat", "deepseek-lite"]


async def test_an_account_budget_only_counts_and_limits_that_account(
    db, make_org, make_gateway, llm_stub: LLMStub, priced
) -> None:
    org = await make_org()
    limited, other = uuid.uuid4(), uuid.uuid4()
    await add_budget(db, org.id, scope="account", scope_id=limited, quota=Decimal("0.002"), hard_action="stop_ai")
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub))
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, account_id=other))
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, account_id=limited))

    with pytest.raises(BudgetExceeded):
        await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, account_id=limited))
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id, account_id=other))

    async with db.sessionmaker() as session:
        assert await session.scalar(select(LedgerEntry.id).where(LedgerEntry.account_id == other).limit(1))


async def test_alert_webhook_is_retried_until_delivered(db, make_org, make_gateway, llm_stub: LLMStub, priced) -> None:
    org = await make_org()
    await add_budget(db, org.id, quota=Decimal("0.002"), webhook_url=f"{llm_stub.url}/webhook")
    llm_stub.webhook_failures = 1
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub), webhook_allow_private=True)  # the stub listens on loopback

    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))
    await gateway.wait_idle()

    assert sorted(hook["level"] for hook in llm_stub.webhooks) == ["hard", "soft"]


async def test_budgets_api_creates_lists_patches_and_deletes(client: httpx.AsyncClient, login) -> None:
    finance = await login(Role.finance)
    created = await client.post(
        "/api/cost/budgets",
        headers=finance.headers,
        json={"name": "每日 AI 回复", "period": "daily", "quota": "50", "hard_action": "stop_ai"},
    )
    assert created.status_code == 201, created.text
    budget_id = created.json()["id"]

    patched = await client.patch(
        f"/api/cost/budgets/{budget_id}", headers=finance.headers, json={"quota": "80", "soft_threshold": "0.9"}
    )
    listed = await client.get("/api/cost/budgets", headers=finance.headers)
    deleted = await client.delete(f"/api/cost/budgets/{budget_id}", headers=finance.headers)
    after = await client.get("/api/cost/budgets", headers=finance.headers)

    assert (Decimal(patched.json()["quota"]), Decimal(patched.json()["soft_threshold"])) == (80, Decimal("0.9"))
    assert [b["id"] for b in listed.json()["items"]] == [budget_id]
    assert Decimal(listed.json()["items"][0]["used"]) == 0
    assert deleted.status_code == 204 and after.json()["items"] == []


async def test_budget_listing_shows_the_current_window_usage(
    client: httpx.AsyncClient, db, login, make_gateway, llm_stub: LLMStub, priced
) -> None:
    finance = await login(Role.finance)
    await add_budget(db, finance.user.organization_id, quota=Decimal("0.008"))
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    await make_gateway(stub_provider(llm_stub)).chat(
        HELLO, purpose="reply", context=CallContext(finance.user.organization_id)
    )

    (item,) = (await client.get("/api/cost/budgets", headers=finance.headers)).json()["items"]

    assert (Decimal(item["used"]), Decimal(item["ratio"]), item["exceeded"]) == (
        Decimal("0.002"),
        Decimal("0.25"),
        False,
    )
    assert item["window_start"] == today().replace(day=1).isoformat()


async def test_budget_for_an_account_requires_its_id(client: httpx.AsyncClient, login) -> None:
    admin = await login(Role.admin)
    response = await client.post(
        "/api/cost/budgets", headers=admin.headers, json={"name": "x", "scope": "account", "quota": "1"}
    )
    assert response.status_code == 422


async def test_another_organisations_finance_user_sees_no_budgets(client: httpx.AsyncClient, login) -> None:
    mine = await login(Role.finance)
    theirs = await login(Role.finance)
    created = await client.post("/api/cost/budgets", headers=mine.headers, json={"name": "预算", "quota": "10"})

    listed = await client.get("/api/cost/budgets", headers=theirs.headers)
    fetched = await client.get(f"/api/cost/budgets/{created.json()['id']}", headers=theirs.headers)
    deleted = await client.delete(f"/api/cost/budgets/{created.json()['id']}", headers=theirs.headers)

    assert listed.json()["items"] == []
    assert (fetched.status_code, deleted.status_code) == (404, 404)


async def test_a_caller_holding_the_organisation_lock_postpones_alerts_instead_of_deadlocking(
    db, make_org, make_gateway, llm_stub: LLMStub, priced
) -> None:
    org = await make_org()
    await add_budget(db, org.id, quota=Decimal("0.002"))
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub), event_lock_timeout_seconds=0.2)

    async with db.engine.connect() as caller:
        # What a request does when it publishes an event and then awaits the gateway before committing.
        await caller.execute(text("update organizations set event_seq = event_seq where id = :id"), {"id": org.id})
        await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))
        await caller.rollback()
    postponed = await alerts(db, org.id)
    await gateway.chat(HELLO, purpose="reply", context=CallContext(org.id))

    assert postponed == []
    assert [a["level"] for a in await alerts(db, org.id)] == ["soft", "hard"]
    async with db.sessionmaker() as session:
        assert len((await session.scalars(select(LedgerEntry))).all()) == 2


@pytest.mark.parametrize("field", ["name", "period", "quota_kind", "quota", "soft_threshold", "hard_action", "enabled"])
async def test_patching_a_required_budget_field_to_null_is_422_and_changes_nothing(
    client: httpx.AsyncClient, login, field: str
) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: {"period": null} reached the NOT NULL column (503).
    finance = await login(Role.finance)
    created = await client.post("/api/cost/budgets", headers=finance.headers, json={"name": "月度", "quota": "50"})
    budget_id = created.json()["id"]
    patched = await client.patch(f"/api/cost/budgets/{budget_id}", headers=finance.headers, json={field: None})
    assert patched.status_code == 422
    assert f"{field} cannot be null" in patched.json()["error"]["message"]
    listed = (await client.get("/api/cost/budgets", headers=finance.headers)).json()["items"]
    assert (listed[0]["name"], listed[0]["period"], Decimal(listed[0]["quota"])) == ("月度", "monthly", 50)


async def test_patching_webhook_url_to_null_clears_it(client: httpx.AsyncClient, login) -> None:
    finance = await login(Role.finance)
    created = await client.post(
        "/api/cost/budgets",
        headers=finance.headers,
        json={"name": "月度", "quota": "50", "webhook_url": "https://hooks.example.com/budget"},
    )
    patched = await client.patch(
        f"/api/cost/budgets/{created.json()['id']}", headers=finance.headers, json={"webhook_url": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["webhook_url"] is None


async def test_a_nul_character_in_a_budget_name_is_422_at_the_edge(client: httpx.AsyncClient, login) -> None:
    finance = await login(Role.finance)
    response = await client.post("/api/cost/budgets", headers=finance.headers, json={"name": "月度\x00", "quota": "5"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
