"""Two app instances sharing PostgreSQL and Redis: events reach a console on either, missed ones replay."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import redis.asyncio as aioredis

from backend.auth.models import Role
from backend.config import Settings
from tests.backend.accounts.support import Sim, sim_account
from tests.backend.conversations.support import FAST_PACING
from tests.backend.ingest.test_live import Listener
from tests.fixtures.db import serve_app


@pytest.fixture
def settings(settings: Settings, redis_client: aioredis.Redis, redis_url: str) -> Settings:
    """Channel settings (simulator) plus the shared Redis."""
    shared = settings.model_copy(deep=True)
    shared.redis.url = redis_url
    return shared


async def test_a_console_on_instance_a_sees_a_callback_accepted_by_instance_b_and_replays_missed_events(
    settings: Settings, sim: Sim, db, make_org, make_account, login, sales_kb
) -> None:
    organization = await make_org()
    sales = await login(Role.sales, organization=organization)
    stranger = await login(Role.sales)
    remote = await sim_account(sim)
    account = await make_account(
        organization, app_id=remote["appId"], wxid=remote["wxid"], owner_user_id=sales.user.id, pacing=FAST_PACING
    )
    customer = remote["contacts"][0]["wxid"]
    async with serve_app(settings) as instance_a, serve_app(settings) as instance_b:
        await sim.control.post(
            "/_sim/callbacks", json={"callbackUrl": f"{instance_b.url}/callbacks/gewe/{account.callback_secret}"}
        )
        console, outsider = Listener(), Listener()
        await console.client.connect(instance_a.url, auth={"token": sales.access_token}, transports=["websocket"])
        await outsider.client.connect(instance_b.url, auth={"token": stranger.access_token}, transports=["websocket"])
        try:
            await sim.control.post(
                "/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": "在吗"}
            )
            [first] = (await console.wait_for("message.new"))[:1]
            last_seen = first["seq"]
        finally:
            await console.client.disconnect()
        await sim.control.post(
            "/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": "转人工"}
        )
        async with httpx.AsyncClient(base_url=instance_a.url, headers=sales.headers) as api, asyncio.timeout(15):
            while True:
                page = (await api.get("/api/events", params={"since": last_seen})).json()
                if "handoff.requested" in [item["type"] for item in page["items"]]:
                    break
                await asyncio.sleep(0.05)
        await outsider.client.disconnect()
    assert first["data"]["text"] == "在吗"
    texts = [item["data"].get("text") for item in page["items"] if item["type"] == "message.new"]
    assert "转人工" in texts
    assert set(outsider.received) == {"hello"}  # the other organisation's console got none of it
