"""Handoff rules of the policy, live: customer tags, working hours, group chats."""

from __future__ import annotations

from typing import Any

import httpx

from backend.auth.models import Role
from tests.backend.conversations.support import Workbench


async def _set_policy(bench: Workbench, login: Any, settings: dict[str, Any]) -> None:
    manager = await login(Role.manager, organization=bench.organization)
    async with httpx.AsyncClient(base_url=bench.server.url, headers=manager.headers) as api:
        response = await api.put("/api/conversations/policy", json={"settings": settings})
    assert response.status_code == 200, response.text


async def test_a_vip_customer_goes_to_people_without_an_ai_answer(workbench: Workbench) -> None:
    await workbench.say("你好")
    conversation = await workbench.conversation()
    await workbench.wait_sent(1)
    await workbench.api.put(f"/api/conversations/{conversation.id}/tags", json={"tags": ["VIP"]})
    await workbench.say("羊毛大衣多少钱？")
    conversation = await workbench.wait_mode("pending_human")
    await workbench.settle()
    assert "VIP" in conversation.mode_reason
    assert len(workbench.sent_to()) == 1


async def test_outside_working_hours_the_ai_answers_and_queues_for_people(workbench: Workbench, login) -> None:
    closed_all_week = {"enabled": True, "start": "09:00", "end": "21:00", "weekdays": []}
    await _set_policy(workbench, login, {"working_hours": closed_all_week})
    await workbench.say("保温杯多少钱？")
    assert "129" in (await workbench.wait_sent(1))[0]
    conversation = await workbench.wait_mode("pending_human")
    assert conversation.holder == "ai" and "非工作时间" in conversation.mode_reason


async def test_in_a_group_the_ai_answers_only_when_mentioned(workbench: Workbench) -> None:
    room = workbench.remote["chatrooms"][0]
    group, member = room["chatroomId"], room["members"][0]
    for mention in (False, True):
        response = await workbench.sim.control.post(
            "/_sim/inject",
            json={
                "appId": workbench.remote["appId"],
                "fromWxid": member,
                "chatroomId": group,
                "content": "面膜多少钱？",
                "mentionAccount": mention,
            },
        )
        assert response.status_code == 200, response.text
        await workbench.settle()
    await workbench.settle()
    sent = workbench.sent_to(group)
    assert len(sent) == 1 and "149" in sent[0]
