"""Mode changes: a message typed on the phone, idle release, escalation, transfer, resolve, conflicts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.auth.models import Role
from backend.conversations import service
from backend.core.db import utcnow
from backend.messages.models import Message
from tests.backend.conversations.support import Workbench
from tests.backend.ingest.payloads import add_msg
from tests.backend.ingest.test_live import Listener


async def _typed_on_phone(bench: Workbench, text: str) -> None:
    payload = add_msg(bench.remote["appId"], from_wxid=bench.remote["wxid"], to_wxid=bench.customer, content=text)
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{bench.server.url}/callbacks/gewe/{bench.account.callback_secret}", json=payload)
    assert response.status_code == 200


async def _sweep(bench: Workbench, *, after_minutes: float) -> service.SweepResult:
    async with bench.db.sessionmaker() as session:
        result = await service.sweep(session, now=utcnow() + timedelta(minutes=after_minutes))
        await bench.server.state.broadcaster.commit(session)
    return result


async def test_a_message_typed_on_the_phone_hands_the_conversation_to_the_owner(workbench: Workbench) -> None:
    await workbench.say("在吗？")
    await workbench.wait_sent(1)
    await _typed_on_phone(workbench, "在的，我是店长，您稍等")
    conversation = await workbench.wait_mode("human")
    assert conversation.holder == "staff" and conversation.holder_user_id == workbench.user_id
    await workbench.say("好的")
    await workbench.settle()
    assert len(workbench.sent_to()) == 1  # the AI stays quiet


async def test_the_echo_of_an_ai_reply_is_not_taken_for_a_message_typed_on_the_phone(workbench: Workbench) -> None:
    workbench.sim.state.config.echo_sends = True
    await workbench.say("护手霜多少钱？")
    await workbench.wait_sent(1)
    await workbench.settle()
    await asyncio.sleep(0.3)  # the echo callback follows the send
    async with workbench.db.sessionmaker() as session:
        rows = list(await session.execute(select(Message.sent_by, Message.echoed_at).order_by(Message.id)))
    assert [sent_by for sent_by, _ in rows] == ["customer", "ai"]
    assert rows[1][1] is not None
    assert (await workbench.conversation()).mode == "ai"


async def test_a_quiet_human_conversation_returns_to_the_ai_after_the_idle_time(workbench: Workbench) -> None:
    await _typed_on_phone(workbench, "您好，我来跟进一下订单")
    await workbench.wait_mode("human")
    assert (await _sweep(workbench, after_minutes=10)).released == 0
    assert (await _sweep(workbench, after_minutes=31)).released == 1
    conversation = await workbench.wait_mode("ai")
    assert "自动交还 AI" in conversation.mode_reason
    await workbench.say("卫衣多少钱？")
    assert "199" in (await workbench.wait_sent(1))[-1]


async def test_an_unaccepted_handoff_is_escalated_to_managers_once(workbench: Workbench, login) -> None:
    manager = await login(Role.manager, organization=workbench.organization)
    listener = Listener()
    await listener.client.connect(workbench.server.url, auth={"token": manager.access_token}, transports=["websocket"])
    try:
        await workbench.say("我要投诉")
        await workbench.wait_mode("pending_human")
        await workbench.wait_sent(1)
        await workbench.settle()  # the sweep skips rows a send still has locked
        assert (await _sweep(workbench, after_minutes=6)).escalated == 1
        [escalation] = await listener.wait_for("handoff.escalated")
        assert (await _sweep(workbench, after_minutes=7)).escalated == 0
    finally:
        await listener.client.disconnect()
    assert escalation["data"]["recipients"] == [str(manager.user.id)]
    assert "投诉" in escalation["data"]["reason"]


async def test_transfer_gives_the_conversation_to_a_colleague_and_audits_it(workbench: Workbench, login) -> None:
    colleague = await login(Role.sales, organization=workbench.organization)
    await workbench.say("转人工")
    conversation = await workbench.wait_mode("pending_human")
    await workbench.api.post(f"/api/conversations/{conversation.id}/takeover", json={})
    moved = await workbench.api.post(
        f"/api/conversations/{conversation.id}/transfer", json={"user_id": str(colleague.user.id), "reason": "老客户"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["holder_user_id"] == str(colleague.user.id)
    async with workbench.db.sessionmaker() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.target_id == str(conversation.id)).order_by(AuditEvent.id)
            )
        )
    assert actions == ["conversation.handoff_requested", "conversation.takeover", "conversation.transfer"]


async def test_a_sales_user_cannot_take_over_a_colleagues_conversation(workbench: Workbench, login) -> None:
    colleague = await login(Role.sales, organization=workbench.organization)
    await workbench.say("转人工")
    conversation = await workbench.wait_mode("pending_human")
    await workbench.api.post(f"/api/conversations/{conversation.id}/takeover", json={})
    async with httpx.AsyncClient(base_url=workbench.server.url, headers=colleague.headers) as other:
        refused = await other.post(f"/api/conversations/{conversation.id}/takeover", json={})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "held_by_other"


async def test_resolved_conversation_reopens_with_the_ai_on_the_next_customer_message(workbench: Workbench) -> None:
    await workbench.say("你好")
    conversation = await workbench.conversation()
    await workbench.wait_sent(1)
    closed = await workbench.api.post(f"/api/conversations/{conversation.id}/resolve")
    assert closed.json()["mode"] == "closed"
    refused = await workbench.api.post(
        f"/api/conversations/{conversation.id}/messages", json={"kind": "text", "text": "还在吗"}
    )
    assert refused.status_code == 409
    await workbench.say("面膜多少钱？")
    await workbench.wait_mode("ai")
    assert "149" in (await workbench.wait_sent(2))[-1]
