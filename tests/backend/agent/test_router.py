"""POST /api/agent/chat and /api/agent/execute offline (no LLM key): acceptance point 1."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.agent.schemas import CampaignPlan
from backend.auth.models import Role

REPORT = "最近7天各门店GMV、客单价、订单数，按天趋势"
DIAGNOSE = "这周复购率下降了，可能原因是什么？用数据验证"
PLAN = "给高价值老客做一个促复购活动，预算3万，7天"

HAND_WRITTEN_REPORT = """
SELECT (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date::text AS day, s.name AS store,
       SUM(o.amount) AS gmv, COUNT(*) AS orders, ROUND(SUM(o.amount) / COUNT(*), 2) AS aov
FROM retail.orders o JOIN retail.stores s ON s.id = o.store_id
WHERE o.pay_status = 1
  AND (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date
      > (SELECT (max(paid_at) AT TIME ZONE 'Asia/Shanghai')::date FROM retail.orders) - 7
GROUP BY 1, 2
"""

COUPONS = "最近7天各门店券核销率"
HAND_WRITTEN_COUPONS = """
SELECT s.name AS store, count(*) AS issued, count(c.redeemed_at) AS redeemed,
       round(count(c.redeemed_at)::numeric / count(*), 4) AS rate
FROM retail.member_coupons c JOIN retail.stores s ON s.id = c.store_id
WHERE (c.issued_at AT TIME ZONE 'Asia/Shanghai')::date
      > (SELECT (max(paid_at) AT TIME ZONE 'Asia/Shanghai')::date FROM retail.orders) - 7
GROUP BY s.name
"""


async def ask(client: httpx.AsyncClient, headers: dict[str, str], query: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/api/agent/chat", json={"query": query, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_report_numbers_equal_hand_written_sql(
    client: httpx.AsyncClient, login, retail_engine: AsyncEngine
) -> None:
    manager = await login(Role.manager)
    body = await ask(client, manager.headers, REPORT)
    assert body["intent"] == "report"
    async with retail_engine.connect() as conn:
        expected = {(r.day, r.store): r for r in (await conn.execute(text(HAND_WRITTEN_REPORT))).all()}
    got = {(r["day"], r["store"]): r for r in body["report"]["rows"] if r["orders"]}
    assert len(got) == len(expected) == 70
    for key, row in expected.items():
        assert got[key]["gmv"] == float(row.gmv)
        assert got[key]["orders"] == row.orders
        assert got[key]["aov"] == float(row.aov)


async def test_coupon_redemption_rate_per_store_equals_hand_written_sql(
    client: httpx.AsyncClient, login, retail_engine: AsyncEngine
) -> None:
    manager = await login(Role.manager)
    body = await ask(client, manager.headers, COUPONS)
    assert body["intent"] == "report"
    async with retail_engine.connect() as conn:
        expected = {r.store: r for r in (await conn.execute(text(HAND_WRITTEN_COUPONS))).all()}
    got = {r["store"]: r for r in body["report"]["rows"]}
    assert len(got) == len(expected) == 10
    for store, row in expected.items():
        assert got[store]["coupons_issued"] == row.issued
        assert got[store]["coupons_redeemed"] == row.redeemed
        assert got[store]["coupon_redemption_rate"] == float(row.rate)


async def test_coupon_report_states_its_definition_and_rollup_source(
    client: httpx.AsyncClient, login, retail_engine: AsyncEngine
) -> None:
    manager = await login(Role.manager)
    body = await ask(client, manager.headers, COUPONS)
    assert body["debug"]["sources"]["q1"] == ["retail.daily_coupon_stats"]
    definitions = " ".join(body["report"]["definitions"])
    assert "券核销率 = 周期内发放的会员券中已核销的张数 / 周期内发放的会员券张数" in definitions
    assert "retail.daily_coupon_stats" in definitions


async def test_report_debug_carries_route_sql_guard_timings_and_model(
    client: httpx.AsyncClient, login, retail_engine
) -> None:
    manager = await login(Role.admin)
    debug = (await ask(client, manager.headers, REPORT))["debug"]
    assert debug["route"] == {"intent": "report", "method": "keyword"}
    assert debug["sql"]["q1"].endswith("LIMIT 1000")
    assert debug["guard"]["q1"]["passed"] is True
    assert {"route_intent", "gen_sql", "guard_sql", "run_sql", "compose_report", "total"} <= set(debug["timings_ms"])
    assert debug["model"].startswith("offline")
    assert debug["tokens"] == {"input": 0, "output": 0}


async def test_diagnosis_finds_the_planted_drop_with_data_and_kb_claims(
    client: httpx.AsyncClient, login, starter_kb
) -> None:
    manager = await login(Role.manager)
    body = await ask(client, manager.headers, DIAGNOSE)
    assert body["intent"] == "diagnose"
    answer = body["answer"]
    for section in ("发现", "原因假设", "验证", "下一步"):
        assert section in answer
    assert "(data)" in answer and "(kb)" in answer
    evidence = body["evidence"]
    q1 = {row["period"]: row for row in evidence["queries"][0]["rows"]}
    assert q1["本期"]["repeat_rate"] < q1["上期"]["repeat_rate"] - 0.1
    verified = [c["text"] for c in evidence["claims"] if c["section"] == "验证" and c["source"] == "data"]
    assert any("支持「老客流失" in text for text in verified)
    assert any("天河店" in text and "支持「支付失败" in text for text in verified)


async def test_every_diagnosis_claim_points_at_rows_or_chunks_in_the_answer(
    client: httpx.AsyncClient, login, starter_kb
) -> None:
    manager = await login(Role.manager)
    evidence = (await ask(client, manager.headers, DIAGNOSE))["evidence"]
    refs = {q["id"] for q in evidence["queries"]} | {k["ref"] for k in evidence["knowledge"]}
    assert evidence["claims"]
    for claim in evidence["claims"]:
        assert claim["source"] in ("data", "kb")
        assert set(claim["refs"]) <= refs


async def test_plan_has_budget_and_duration_from_the_question(client: httpx.AsyncClient, login, starter_kb) -> None:
    manager = await login(Role.manager)
    body = await ask(client, manager.headers, PLAN)
    assert body["intent"] == "plan"
    plan = CampaignPlan.model_validate(body["plan"])
    assert (plan.budget, plan.duration_days) == (30000, 7)
    assert plan.target_segment.estimated_size and plan.target_segment.estimated_size > 0
    assert plan.offer.max_redemptions * plan.offer.value <= plan.budget


async def test_executing_a_plan_twice_returns_the_first_receipt_without_a_second_crm_call(
    client: httpx.AsyncClient, app, login, starter_kb, clean_actions, retail_engine: AsyncEngine
) -> None:
    manager = await login(Role.manager)
    plan = (await ask(client, manager.headers, PLAN))["plan"]
    first = await client.post("/api/agent/execute", json={"plan": plan}, headers=manager.headers)
    calls_after_first = app.other_asgi_app.state.mock_crm_calls
    second = await client.post("/api/agent/execute", json={"plan": plan}, headers=manager.headers)
    assert first.status_code == second.status_code == 200, second.text
    one, two = first.json()["execution"], second.json()["execution"]
    assert one["publish_status"] == "published" and one["error"] is None
    assert (two["idempotency_key"], two["coupon_id"]) == (one["idempotency_key"], one["coupon_id"])
    assert two["replayed"] is True
    assert calls_after_first == 2  # create + publish
    assert app.other_asgi_app.state.mock_crm_calls == calls_after_first
    async with retail_engine.connect() as conn:
        coupons = (await conn.execute(text("SELECT status FROM retail.coupons"))).scalars().all()
        log = (await conn.execute(text("SELECT status, response_json FROM retail.action_logs"))).one()
    assert coupons == ["published"]
    assert log.status == "success" and log.response_json["coupon_id"] == one["coupon_id"]


async def test_chat_with_a_plan_and_an_action_word_executes_it(
    client: httpx.AsyncClient, login, starter_kb, clean_actions
) -> None:
    manager = await login(Role.manager)
    plan = (await ask(client, manager.headers, PLAN))["plan"]
    body = await ask(client, manager.headers, "执行上架这个方案", plan=plan)
    assert body["intent"] == "execute"
    assert body["execution"]["publish_status"] == "published"


@pytest.mark.parametrize("role", [Role.sales, Role.finance])
async def test_agent_is_for_managers_and_admins_only(client: httpx.AsyncClient, login, role: Role) -> None:
    user = await login(role)
    response = await client.post("/api/agent/chat", json={"query": REPORT}, headers=user.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_execute_rejects_a_plan_that_breaks_the_schema(client: httpx.AsyncClient, login) -> None:
    manager = await login(Role.manager)
    response = await client.post(
        "/api/agent/execute", json={"plan": {"goal": "x", "budget": -1}}, headers=manager.headers
    )
    assert response.status_code == 422


async def test_a_question_with_a_nul_character_is_refused_with_the_field_named(
    client: httpx.AsyncClient, login
) -> None:
    manager = await login(Role.manager)
    response = await client.post("/api/agent/chat", json={"query": "GMV\x00"}, headers=manager.headers)
    assert response.status_code == 422
    assert "query" in response.json()["error"]["message"] and "NUL" in response.json()["error"]["message"]


def _plan(**changes: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "goal": "促复购",
        "duration_days": 7,
        "budget": 30000,
        "target_segment": {"definition": "高价值老客", "rules": ["近90天消费>=3次"]},
        "offer": {"type": "full_reduction", "threshold": 200, "value": 30, "max_redemptions": 1000},
        "channels": ["wechat"],
        "kpi": {"primary": "复购率", "targets": ["+2pp"]},
        "risk_controls": ["每人限领1张"],
    }
    for key, value in changes.items():
        if key in plan["offer"]:
            plan["offer"] = {**plan["offer"], key: value}
        else:
            plan[key] = value
    return plan


@pytest.mark.parametrize(
    "change",
    [{"budget": 1e16}, {"threshold": 1e308}, {"value": 2e10}, {"max_redemptions": 2**31}, {"goal": "促复购\x00"}],
    ids=["budget", "threshold", "value", "max_redemptions", "nul-in-goal"],
)
async def test_execute_refuses_values_its_tables_cannot_hold_before_any_crm_call(
    client: httpx.AsyncClient, app, login, clean_actions, retail_engine: AsyncEngine, change: dict[str, Any]
) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: a budget past NUMERIC(12,2) failed the last INSERT (503)
    # after the coupon had been created and published, leaving the action log `pending`; a NUL in the plan
    # failed the action log's JSONB insert (503).
    manager = await login(Role.manager)
    response = await client.post("/api/agent/execute", json={"plan": _plan(**change)}, headers=manager.headers)
    assert response.status_code == 422
    assert next(iter(change)) in response.json()["error"]["message"]
    assert getattr(app.other_asgi_app.state, "mock_crm_calls", 0) == 0
    async with retail_engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM retail.action_logs"))).scalar() == 0
