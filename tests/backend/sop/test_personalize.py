"""AI personalisation of SOP steps: metered with origin `sop`, and a hard budget pauses the SOP."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from backend.cost.models import LedgerEntry
from backend.realtime.models import RealtimeEvent
from backend.sop.models import Sop
from tests.backend.sop.support import SopWorld
from tests.fixtures.llm_stub import LLMStub, Reply, add_budget, insert_price, stub_provider


async def _personalised_sop(world: SopWorld) -> Sop:
    await world.add_friends(world.accounts[0], 2, tags=["A"])
    sop = await world.create(
        {"name": "个性化", "targets": {"tags": ["A"]}, "steps": [world.step("周末有活动", ai_personalize=True)]}
    )
    await world.control("start", sop)
    return sop


async def test_personalised_steps_send_the_llm_text_and_are_metered_as_sop(
    sop_world: SopWorld, llm_stub: LLMStub, make_gateway
) -> None:  # type: ignore[no-untyped-def]
    world = sop_world
    llm_stub.default = Reply(content="王姐，这周末店里有专场活动，给您留了位置～")
    sop = await _personalised_sop(world)

    await world.dispatcher(llm=make_gateway(stub_provider(llm_stub))).drain()

    async with world.db.sessionmaker() as session:
        ledger = list(await session.scalars(select(LedgerEntry)))
    assert [message.content for message in world.received()] == ["王姐，这周末店里有专场活动，给您留了位置～"] * 2
    assert [(row.origin, row.account_id) for row in ledger] == [("sop", world.accounts[0].id)] * 2
    assert {delivery.status for delivery in await world.deliveries(sop)} == {"sent"}


async def test_a_hard_budget_with_pause_sop_pauses_the_sop_and_alerts(
    sop_world: SopWorld, llm_stub: LLMStub, make_gateway
) -> None:  # type: ignore[no-untyped-def]
    world = sop_world
    await insert_price(
        world.db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    await add_budget(
        world.db, world.organization.id, name="SOP 日预算", period="daily", quota=Decimal(0), hard_action="pause_sop"
    )
    sop = await _personalised_sop(world)

    await world.dispatcher(llm=make_gateway(stub_provider(llm_stub))).drain()

    async with world.db.sessionmaker() as session:
        stored = await session.get(Sop, sop.id)
        alerts = list(await session.scalars(select(RealtimeEvent.data).where(RealtimeEvent.type == "system.alert")))
    assert stored is not None and stored.status == "paused"
    assert stored.status_reason.startswith("预算已用尽")
    assert world.received() == []
    assert {delivery.status for delivery in await world.deliveries(sop)} == {"pending"}
    assert [alert["kind"] for alert in alerts] == ["sop_paused_by_budget"]


async def test_a_rewrite_promising_more_discount_than_policy_sends_the_template(
    sop_world: SopWorld, llm_stub: LLMStub, make_gateway
) -> None:  # type: ignore[no-untyped-def]
    world = sop_world
    llm_stub.default = Reply(content="王姐，这周末全场3折，快来！")
    await _personalised_sop(world)

    await world.dispatcher(llm=make_gateway(stub_provider(llm_stub))).drain()

    assert [message.content for message in world.received()] == ["周末有活动"] * 2
