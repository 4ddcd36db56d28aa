"""What the console's resync relies on: /api/events pages, its answer past the end, and seqs without holes."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.auth.models import Role, User
from backend.core.db import Database
from backend.realtime.models import RealtimeEvent
from backend.realtime.service import current_seq, envelope, publish, take_pending, user_room


async def publish_many(db: Database, organization_id: uuid.UUID, count: int) -> None:
    async with db.sessionmaker() as session:
        for n in range(count):
            publish(session, organization_id=organization_id, type="system.alert", data={"n": n})
        await session.commit()


async def test_events_come_in_pages_that_continue_from_last_seq(client: httpx.AsyncClient, login, db: Database) -> None:
    manager = await login(Role.manager)
    await publish_many(db, manager.user.organization_id, 5)
    since, pages = 1, []
    while True:
        page = (await client.get("/api/events", params={"since": since, "limit": 2}, headers=manager.headers)).json()
        pages.append(([item["seq"] for item in page["items"]], page["last_seq"], page["has_more"]))
        since = page["last_seq"]
        if not page["has_more"]:
            break
    assert pages == [([2, 3], 3, True), ([4, 5], 5, False)]


async def test_past_the_end_the_page_is_empty_and_last_seq_is_since(
    client: httpx.AsyncClient, login, db: Database
) -> None:
    # A console that saw seq 40 of a sequence that restarted (the org's seq is now 2) asks for more: nothing,
    # and the seq announced in `hello` (current_seq) is below its own, which is how it knows to reload.
    manager = await login(Role.manager)
    await publish_many(db, manager.user.organization_id, 2)
    page = (await client.get("/api/events", params={"since": 40}, headers=manager.headers)).json()
    assert page == {"items": [], "last_seq": 40, "has_more": False}
    async with db.sessionmaker() as session:
        assert await current_seq(session, organization_id=manager.user.organization_id) == 2


async def test_a_pushed_envelope_is_the_one_replayed(client: httpx.AsyncClient, login, db: Database) -> None:
    manager = await login(Role.manager)
    async with db.sessionmaker() as session:
        publish(session, organization_id=manager.user.organization_id, type="system.alert", data={"文": [1, None]})
        await session.commit()
        [pushed] = [envelope(event) for event in take_pending(session)]
    page = (await client.get("/api/events", params={"since": 0}, headers=manager.headers)).json()
    assert page["items"] == [pushed]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"since": -1}])
async def test_out_of_range_paging_is_422(client: httpx.AsyncClient, login, params: dict[str, int]) -> None:
    manager = await login(Role.manager)
    response = await client.get("/api/events", params=params, headers=manager.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_a_commit_that_fails_after_numbering_leaves_no_hole(db: Database, make_org, make_user) -> None:
    organization = await make_org()
    taken, _ = await make_user(Role.sales, organization=organization)
    async with db.sessionmaker() as session:
        publish(session, organization_id=organization.id, type="lost", data={})
        # The duplicate username fails in the flush at commit, after the event was numbered.
        session.add(User(organization_id=organization.id, username=taken.username, password_hash="x", role=Role.sales))
        with pytest.raises(IntegrityError):
            await session.commit()
        await session.rollback()
        publish(session, organization_id=organization.id, type="kept", data={})
        await session.commit()
    async with db.sessionmaker() as session:
        stored = (
            await session.execute(
                select(RealtimeEvent.seq, RealtimeEvent.type).where(RealtimeEvent.organization_id == organization.id)
            )
        ).all()
    assert [tuple(row) for row in stored] == [(1, "kept")]


async def test_an_event_for_another_user_is_replayed_only_as_a_redacted_placeholder(
    client: httpx.AsyncClient, login, make_org, db: Database
) -> None:
    organization = await make_org()
    first = await login(Role.sales, organization=organization)
    second = await login(Role.sales, organization=organization)
    async with db.sessionmaker() as session:
        publish(
            session,
            organization_id=first.user.organization_id,
            type="handoff.requested",
            data={"summary": "客户要退款"},
            rooms=[user_room(first.user.id)],
        )
        await session.commit()
    seen = {}
    for who in (first, second):
        page = (await client.get("/api/events", params={"since": 0}, headers=who.headers)).json()
        seen[who.user.id] = [(item["type"], item["data"]) for item in page["items"]]
    assert seen[first.user.id] == [("handoff.requested", {"summary": "客户要退款"})]
    assert seen[second.user.id] == [("redacted", {})]
