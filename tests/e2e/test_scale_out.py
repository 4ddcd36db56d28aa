"""Issue 8 acceptance 1: two `salesbot serve` instances and one `salesbot worker` on shared PostgreSQL and Redis.

A scripted customer talks to the account; staff take over through one instance, reply through the other and
release; consoles connected to either instance see every event.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from backend.auth.models import Role
from backend.config import Settings
from tests.backend.accounts.support import SIM_TOKEN, Sim, make_account, settings, sim, sim_account, wait_until
from tests.backend.conversations.support import FAST_PACING, sales_kb
from tests.backend.ingest.test_live import Listener
from tests.fixtures.db import free_port
from tests.fixtures.processes import process_env, running, start_salesbot, wait_healthy

__all__ = ["make_account", "sales_kb", "settings", "sim"]  # fixtures used here


def _messages_to(sim: Sim, customer: str) -> list[Any]:
    return sim.state.sent_messages(to_wxid=customer)


async def test_a_conversation_with_takeover_works_through_either_instance_and_both_consoles_see_it(
    sim: Sim, settings: Settings, redis_url: str, make_org, make_account, login, sales_kb
) -> None:
    organization = await make_org()
    sales = await login(Role.sales, organization=organization)
    remote = await sim_account(sim)
    account = await make_account(
        organization, app_id=remote["appId"], wxid=remote["wxid"], owner_user_id=sales.user.id, pacing=FAST_PACING
    )
    customer = remote["contacts"][0]["wxid"]
    sim.state.config.echo_sends = True
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    shared = {
        "DATABASE_URL": settings.database.url or "",
        "REDIS_URL": redis_url,
        "GEWE_API_BASE": sim.api_base,
        "GEWE_TOKEN": SIM_TOKEN,
    }
    # The test's own tokens must verify on the instances: they share the test settings' JWT secret.
    api_env = process_env(
        **shared, JWT_SECRET=settings.security.jwt_secret or "", INGEST_CONSUME="false", SOP_DISPATCH="false"
    )
    with running({}) as processes:
        for index, port in enumerate(ports):
            processes[f"api{index}"] = start_salesbot("serve", "--port", str(port), env=api_env)
        processes["worker"] = start_salesbot(
            "worker", env={**api_env, "INGEST_CONSUME": "true", "SOP_DISPATCH": "true"}
        )
        for index, url in enumerate(urls):
            await asyncio.to_thread(wait_healthy, url, processes[f"api{index}"])
        await sim.control.post(
            "/_sim/callbacks",
            json={"appId": remote["appId"], "callbackUrl": f"{urls[0]}/callbacks/gewe/{account.callback_secret}"},
        )
        consoles = [Listener(), Listener()]
        for console, url in zip(consoles, urls, strict=True):
            await console.client.connect(url, auth={"token": sales.access_token}, transports=["websocket"])
        first, second = (httpx.AsyncClient(base_url=url, headers=sales.headers) for url in urls)
        try:
            await sim.control.post(
                "/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": "在吗"}
            )

            async def ai_answered(count: int) -> bool:
                return len(_messages_to(sim, customer)) >= count

            await wait_until(lambda: ai_answered(1), 30)
            conversation_id = (await first.get("/api/conversations", params={"account_id": str(account.id)})).json()[
                "items"
            ][0]["id"]
            taken = await second.post(f"/api/conversations/{conversation_id}/takeover", json={"reason": "我来跟进"})
            await sim.control.post(
                "/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": "有蓝色的吗"}
            )
            sent = await first.post(f"/api/conversations/{conversation_id}/messages", json={"text": "有的，蓝色有现货"})
            await asyncio.sleep(2)  # time enough for an AI reply that must not come
            while_held = [message.content for message in _messages_to(sim, customer)]
            released = await first.post(f"/api/conversations/{conversation_id}/release", json={"reason": ""})
            await sim.control.post(
                "/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": "好的，怎么下单"}
            )
            await wait_until(lambda: ai_answered(3), 30)
            for console in consoles:

                async def saw_the_conversation(console: Listener = console) -> bool:
                    received = console.received
                    return len(received.get("message.new", [])) >= 3 and bool(received.get("conversation.updated"))

                await wait_until(saw_the_conversation, 15)
        finally:
            await first.aclose()
            await second.aclose()
            for console in consoles:
                await console.client.disconnect()

    assert (taken.status_code, sent.status_code, released.status_code) == (200, 201, 200)
    assert len(while_held) == 2 and while_held[1] == "有的，蓝色有现货"  # the AI's first answer, then the person
    assert len(_messages_to(sim, customer)) == 3  # the AI answered again after the release
    for console in consoles:
        texts = [event["data"]["text"] for event in console.received["message.new"]]
        assert {"在吗", "有蓝色的吗", "好的，怎么下单"} <= set(texts)
        modes = [event["data"]["mode"] for event in console.received["conversation.updated"]]
        assert "human" in modes and modes[-1] == "ai"
