"""The demo story over real HTTP: KB answer, 转人工, takeover, a person's reply, release, AI again."""

from __future__ import annotations

from sqlalchemy import select

from backend.replies.models import ReplyDecision
from tests.backend.conversations.support import Workbench
from tests.backend.ingest.test_live import Listener


async def test_product_question_is_answered_from_the_knowledge_base(workbench: Workbench) -> None:
    await workbench.say("连衣裙多少钱？")
    [reply] = await workbench.wait_sent(1)
    assert "299" in reply
    await workbench.settle()
    async with workbench.db.sessionmaker() as session:
        decision = await session.scalar(select(ReplyDecision))
    assert decision is not None and decision.outcome == "sent"
    assert decision.kb_hits and "连衣裙" in decision.kb_hits[0]["content"]


async def test_转人工_queues_the_conversation_and_notifies_the_accounts_sales(workbench: Workbench) -> None:
    listener = Listener()
    await listener.client.connect(
        workbench.server.url, auth={"token": workbench.access_token}, transports=["websocket"]
    )
    try:
        await workbench.say("转人工")
        [handoff] = await listener.wait_for("handoff.requested")
    finally:
        await listener.client.disconnect()
    conversation = await workbench.wait_mode("pending_human")
    assert conversation.holder == "none"
    assert "转人工" in handoff["data"]["reason"]
    assert handoff["data"]["conversation"]["id"] == str(conversation.id)
    [ack] = await workbench.wait_sent(1)
    assert "人工" in ack


async def test_takeover_reply_and_release_hand_the_conversation_back_and_forth(workbench: Workbench) -> None:
    await workbench.say("转人工")
    conversation = await workbench.wait_mode("pending_human")
    await workbench.wait_sent(1)
    taken = await workbench.api.post(f"/api/conversations/{conversation.id}/takeover", json={})
    assert taken.status_code == 200, taken.text
    assert taken.json()["mode"] == "human" and taken.json()["holder_user_id"] == str(workbench.user_id)
    sent = await workbench.api.post(
        f"/api/conversations/{conversation.id}/messages", json={"kind": "text", "text": "您好，我是人工客服小李"}
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "sent" and sent.json()["sent_by"] == "staff"
    await workbench.say("卫衣有XL码吗？")
    await workbench.settle()
    assert workbench.sent_to()[-1] == "您好，我是人工客服小李"  # the AI stays silent while a person holds it
    released = await workbench.api.post(f"/api/conversations/{conversation.id}/release", json={})
    assert released.status_code == 200 and released.json()["mode"] == "ai"
    await workbench.say("卫衣多少钱？")
    texts = await workbench.wait_sent(3)
    assert "199" in texts[-1]
