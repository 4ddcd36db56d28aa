"""End to end over real HTTP: simulator -> callback -> inbox -> dispatcher -> Socket.IO client of the org."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from backend.accounts.models import Account
from backend.auth.models import Role
from tests.backend.accounts.support import sim_account


class Listener:
    """A Socket.IO client recording the events it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.arrived = asyncio.Condition()
        self.client.on("*", self._record)

    async def _record(self, event: str, data: dict[str, Any]) -> None:
        async with self.arrived:
            self.received.setdefault(event, []).append(data)
            self.arrived.notify_all()

    async def wait_for(self, event: str, limit: float = 10.0) -> list[dict[str, Any]]:
        """Wait until an event of this type arrived."""
        async with asyncio.timeout(limit), self.arrived:
            await self.arrived.wait_for(lambda: bool(self.received.get(event)))
        return self.received[event]


async def test_simulated_customer_message_reaches_the_orgs_console(
    live_server, login, make_org, make_account, sim
) -> None:
    organization = await make_org()
    sales = await login(Role.sales, organization=organization)
    stranger = await login(Role.sales)
    remote = await sim_account(sim)
    account: Account = await make_account(organization, app_id=remote["appId"], wxid=remote["wxid"])
    await sim.control.post(
        "/_sim/callbacks", json={"callbackUrl": f"{live_server.url}/callbacks/gewe/{account.callback_secret}"}
    )
    ours, theirs = Listener(), Listener()
    await ours.client.connect(live_server.url, auth={"token": sales.access_token}, transports=["websocket"])
    await theirs.client.connect(live_server.url, auth={"token": stranger.access_token}, transports=["websocket"])
    try:
        customer = remote["contacts"][0]["wxid"]
        await sim.control.post(
            "/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": "请问有优惠吗"}
        )
        events = await ours.wait_for("message.new")
        await asyncio.sleep(0.2)
    finally:
        await ours.client.disconnect()
        await theirs.client.disconnect()
    assert [(e["data"]["text"], e["data"]["sender_wxid"]) for e in events] == [("请问有优惠吗", customer)]
    assert "message.new" not in theirs.received


async def test_simulator_taking_the_account_offline_changes_its_status_live(
    live_server, login, make_org, make_account, sim
) -> None:
    organization = await make_org()
    manager = await login(Role.manager, organization=organization)
    remote = await sim_account(sim)
    account: Account = await make_account(organization, app_id=remote["appId"], wxid=remote["wxid"])
    await sim.control.post(
        "/_sim/callbacks", json={"callbackUrl": f"{live_server.url}/callbacks/gewe/{account.callback_secret}"}
    )
    await sim.control.post("/_sim/failures", json={"reconnectFails": True})
    listener = Listener()
    await listener.client.connect(live_server.url, auth={"token": manager.access_token}, transports=["websocket"])
    try:
        await sim.control.post(f"/_sim/accounts/{remote['appId']}/offline")
        events = await listener.wait_for("device.status")
    finally:
        await listener.client.disconnect()
    assert (events[0]["data"]["account_id"], events[0]["data"]["status"]) == (str(account.id), "offline")
