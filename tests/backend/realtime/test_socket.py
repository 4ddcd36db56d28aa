"""Socket.IO: JWT on connect, organisation rooms, numbered events and replay."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import socketio

from backend.auth.models import Role
from backend.realtime.service import publish
from tests.fixtures.db import serve_app


class Listener:
    """A Socket.IO client recording what it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.arrived = asyncio.Condition()
        self.connect_error: Any = None
        self.client.on("*", self._record)
        self.client.on("connect_error", self._refused)

    async def _refused(self, data: Any) -> None:
        self.connect_error = data

    async def _record(self, event: str, data: dict[str, Any]) -> None:
        async with self.arrived:
            self.received.setdefault(event, []).append(data)
            self.arrived.notify_all()

    async def connect(self, url: str, token: str | None) -> None:
        """Connect with the token in the auth payload."""
        await self.client.connect(url, auth={"token": token} if token else None, transports=["websocket"])

    async def wait_for(self, event: str, count: int = 1) -> list[dict[str, Any]]:
        """Wait (at most 5 s) until `count` events of a type arrived."""
        async with asyncio.timeout(5), self.arrived:
            await self.arrived.wait_for(lambda: len(self.received.get(event, [])) >= count)
        return self.received[event]


async def _publish(live_server, organization_id, type_: str, data: dict[str, Any]) -> int:
    state = live_server.state
    async with state.database.sessionmaker() as session:
        event = publish(session, organization_id=organization_id, type=type_, data=data)
        await state.broadcaster.commit(session)
        return event.seq


async def test_connection_without_token_is_refused(live_server) -> None:
    listener = Listener()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await listener.connect(live_server.url, None)
    assert listener.connect_error == {"message": "unauthorized"}


async def test_connection_with_an_invalid_token_is_refused(live_server) -> None:
    listener = Listener()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await listener.connect(live_server.url, "not.a.jwt")
    assert listener.connect_error == {"message": "unauthorized"}


async def test_connected_client_gets_hello_with_its_organisation(live_server, login) -> None:
    session = await login(Role.sales)
    listener = Listener()
    await listener.connect(live_server.url, session.access_token)
    try:
        hello = (await listener.wait_for("hello"))[0]
        assert hello["organization_id"] == str(session.user.organization_id)
        assert hello["seq"] == 0
    finally:
        await listener.client.disconnect()


async def test_events_reach_only_their_organisation(live_server, login) -> None:
    mine, theirs = await login(Role.sales), await login(Role.sales)
    listener_a, listener_b = Listener(), Listener()
    await listener_a.connect(live_server.url, mine.access_token)
    await listener_b.connect(live_server.url, theirs.access_token)
    try:
        await listener_a.wait_for("hello")
        await listener_b.wait_for("hello")
        await _publish(live_server, mine.user.organization_id, "system.alert", {"text": "hello A"})
        await _publish(live_server, mine.user.organization_id, "system.alert", {"text": "again A"})
        alerts = await listener_a.wait_for("system.alert", count=2)
        assert [(a["seq"], a["type"], a["data"]["text"]) for a in alerts] == [
            (1, "system.alert", "hello A"),
            (2, "system.alert", "again A"),
        ]
        await asyncio.sleep(0.2)
        assert "system.alert" not in listener_b.received
    finally:
        await listener_a.client.disconnect()
        await listener_b.client.disconnect()


async def test_events_since_replays_what_was_missed(live_server, login, client: httpx.AsyncClient) -> None:
    session = await login(Role.manager)
    for n in range(3):
        await _publish(live_server, session.user.organization_id, "system.alert", {"n": n})
    page = (await client.get("/api/events", params={"since": 1}, headers=session.headers)).json()
    assert [(item["seq"], item["data"]["n"]) for item in page["items"]] == [(2, 1), (3, 2)]
    assert page["last_seq"] == 3 and page["has_more"] is False


async def test_events_since_never_shows_another_organisation(live_server, login, client: httpx.AsyncClient) -> None:
    mine, theirs = await login(Role.manager), await login(Role.manager)
    await _publish(live_server, theirs.user.organization_id, "system.alert", {"secret": True})
    page = (await client.get("/api/events", params={"since": 0}, headers=mine.headers)).json()
    assert page["items"] == []


async def test_redis_manager_delivers_events_emitted_by_another_process(
    settings, db, login, redis_client, redis_url
) -> None:
    session = await login(Role.sales)
    redis_settings = settings.model_copy(deep=True)
    redis_settings.redis.url = redis_url
    async with serve_app(redis_settings) as server:
        listener = Listener()
        await listener.connect(server.url, session.access_token)
        try:
            await listener.wait_for("hello")
            worker = socketio.AsyncRedisManager(redis_url, write_only=True)
            await worker.emit(
                "system.alert",
                {"seq": 7, "type": "system.alert", "at": "2026-01-01T00:00:00Z", "data": {"from": "worker"}},
                room=f"org:{session.user.organization_id}",
            )
            received = await listener.wait_for("system.alert")
            assert received[0]["data"] == {"from": "worker"}
        finally:
            await listener.client.disconnect()
