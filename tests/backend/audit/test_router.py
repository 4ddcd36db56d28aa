"""GET /api/audit: the organisation's audit log for its admins, filtered and paged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from backend.audit.service import record
from backend.auth.models import Role
from backend.core.db import Database, utcnow
from tests.fixtures.db import Login


async def add_events(db: Database, who: Login, *actions: str, target_type: str = "budget") -> None:
    """Audit rows by a user, one per action, a second apart, after every row the fixtures wrote (oldest first).

    Each organisation already holds one row: `user.create` of the user the `login` fixture made (no actor).
    """
    async with db.sessionmaker() as session:
        for index, action in enumerate(actions):
            event = await record(
                session,
                organization_id=who.user.organization_id,
                actor_id=who.user.id,
                action=action,
                target_type=target_type,
                target_id=f"t{index}",
                detail={"n": index},
            )
            event.created_at = utcnow() + timedelta(seconds=index + 1)
        await session.commit()


async def audit(client: httpx.AsyncClient, who: Login, **params: Any) -> httpx.Response:
    """GET /api/audit as a user."""
    return await client.get("/api/audit", params=params, headers=who.headers)


async def test_an_admin_reads_the_organisations_events_newest_first_with_the_actors_name(
    client: httpx.AsyncClient, login, db
) -> None:
    admin = await login(Role.admin)
    await add_events(db, admin, "budget.create", "budget.update")
    body = (await audit(client, admin)).json()
    assert body["total"] == 3
    assert [(item["action"], item["actor_name"]) for item in body["items"]] == [
        ("budget.update", admin.user.username),
        ("budget.create", admin.user.username),
        ("user.create", None),  # the admin's own creation by the fixture: no actor
    ]
    assert body["items"][0]["detail"] == {"n": 1}


async def test_another_organisations_admin_sees_none_of_its_events(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    stranger = await login(Role.admin)
    await add_events(db, admin, "budget.create")
    body = (await audit(client, stranger)).json()
    assert [(item["action"], item["target_id"]) for item in body["items"]] == [("user.create", str(stranger.user.id))]


async def test_a_sales_user_gets_403(client: httpx.AsyncClient, login) -> None:
    sales = await login(Role.sales)
    response = await audit(client, sales)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_events_filter_by_action(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    await add_events(db, admin, "budget.create", "budget.update", "budget.create")
    body = (await audit(client, admin, action="budget.create")).json()
    assert [item["target_id"] for item in body["items"]] == ["t2", "t0"]


async def test_events_filter_by_actor(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    colleague = await login(Role.finance, organization=admin.user.organization)
    await add_events(db, admin, "user.create")
    await add_events(db, colleague, "price.create")
    body = (await audit(client, admin, actor_id=str(colleague.user.id))).json()
    assert [item["action"] for item in body["items"]] == ["price.create"]


async def test_events_filter_by_target_type(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    await add_events(db, admin, "budget.create")
    await add_events(db, admin, "price.create", target_type="price")
    body = (await audit(client, admin, target_type="price")).json()
    assert [item["action"] for item in body["items"]] == ["price.create"]


async def test_events_filter_by_time_since_inclusive_until_exclusive(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    await add_events(db, admin, "a.first", "a.second", "a.third")
    items = (await audit(client, admin)).json()["items"]
    second_at = next(item["created_at"] for item in items if item["action"] == "a.second")
    third_at = next(item["created_at"] for item in items if item["action"] == "a.third")
    body = (await audit(client, admin, since=second_at, until=third_at)).json()
    assert [item["action"] for item in body["items"]] == ["a.second"]


async def test_events_come_a_page_at_a_time_with_the_total(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    await add_events(db, admin, *(f"a.n{index}" for index in range(5)))
    first = (await audit(client, admin, limit=2)).json()
    last = (await audit(client, admin, limit=2, offset=4)).json()
    assert (first["total"], [item["action"] for item in first["items"]]) == (6, ["a.n4", "a.n3"])
    assert [item["action"] for item in last["items"]] == ["a.n0", "user.create"]


async def test_the_actions_present_are_listed_for_the_filter(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    await add_events(db, admin, "user.create", "budget.create", "user.create")
    response = await client.get("/api/audit/actions", headers=admin.headers)
    assert response.json() == ["budget.create", "user.create"]


async def test_hostile_filters_are_422_at_the_edge(client: httpx.AsyncClient, login) -> None:
    admin = await login(Role.admin)
    for params in ({"action": "x\x00"}, {"offset": 2**63}, {"since": "0001-01-01T00:00:00+05:00"}):
        response = await audit(client, admin, **params)
        assert response.status_code == 422, params
