"""User management: admin only, organisation-scoped, audited."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.auth.models import Role


async def test_sales_user_calling_an_admin_endpoint_gets_403(client: httpx.AsyncClient, login) -> None:
    sales = await login(Role.sales)
    response = await client.get("/api/users", headers=sales.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_admin_creates_a_user_in_their_own_organisation(client: httpx.AsyncClient, login) -> None:
    admin = await login(Role.admin)
    response = await client.post(
        "/api/users",
        headers=admin.headers,
        json={"username": "new_sales", "password": "long-enough-1", "role": "sales", "display_name": "小王"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["organization"]["id"] == str(admin.user.organization_id)
    assert body["display_name"] == "小王"
    login_response = await client.post("/api/auth/login", json={"username": "new_sales", "password": "long-enough-1"})
    assert login_response.status_code == 200


async def test_taken_username_is_409(client: httpx.AsyncClient, login, make_user) -> None:
    admin = await login(Role.admin)
    existing, _ = await make_user()
    response = await client.post(
        "/api/users",
        headers=admin.headers,
        json={"username": existing.username, "password": "long-enough-1", "role": "sales"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"


async def test_short_password_is_422(client: httpx.AsyncClient, login) -> None:
    admin = await login(Role.admin)
    response = await client.post(
        "/api/users", headers=admin.headers, json={"username": "shorty", "password": "123", "role": "sales"}
    )
    assert response.status_code == 422


async def test_admin_cannot_read_a_user_of_another_organisation(client: httpx.AsyncClient, login, make_user) -> None:
    admin_a = await login(Role.admin)
    user_b, _ = await make_user(Role.sales)
    assert user_b.organization_id != admin_a.user.organization_id
    response = await client.get(f"/api/users/{user_b.id}", headers=admin_a.headers)
    assert response.status_code == 404


async def test_admin_cannot_disable_a_user_of_another_organisation(client: httpx.AsyncClient, login, make_user) -> None:
    admin_a = await login(Role.admin)
    user_b, _ = await make_user(Role.sales)
    response = await client.patch(f"/api/users/{user_b.id}", headers=admin_a.headers, json={"is_active": False})
    assert response.status_code == 404


async def test_user_list_holds_only_the_callers_organisation(client: httpx.AsyncClient, login, make_user) -> None:
    admin = await login(Role.admin)
    await make_user(Role.sales)  # another organisation
    colleague, _ = await make_user(Role.sales, organization=admin.user.organization)
    response = await client.get("/api/users", headers=admin.headers)
    usernames = {item["username"] for item in response.json()["items"]}
    assert usernames == {admin.user.username, colleague.username}


async def test_disabling_a_user_locks_out_their_tokens(client: httpx.AsyncClient, login) -> None:
    admin = await login(Role.admin)
    sales = await login(Role.sales, organization=admin.user.organization)
    response = await client.patch(f"/api/users/{sales.user.id}", headers=admin.headers, json={"is_active": False})
    assert response.status_code == 200
    assert (await client.get("/api/auth/me", headers=sales.headers)).status_code == 401
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": sales.refresh_token})
    assert refresh.status_code == 401


async def test_admin_cannot_disable_themselves(client: httpx.AsyncClient, login) -> None:
    admin = await login(Role.admin)
    response = await client.patch(f"/api/users/{admin.user.id}", headers=admin.headers, json={"is_active": False})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "self_lockout"


async def test_user_changes_are_audited(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    created = await client.post(
        "/api/users",
        headers=admin.headers,
        json={"username": "audited", "password": "long-enough-1", "role": "finance"},
    )
    await client.patch(f"/api/users/{created.json()['id']}", headers=admin.headers, json={"role": "manager"})
    async with db.sessionmaker() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.actor_id == admin.user.id))).all()
    assert [(e.action, e.detail["after"].get("role")) for e in events] == [
        ("user.create", "finance"),
        ("user.role_change", "manager"),
    ]


async def test_a_nul_character_in_a_display_name_is_422_at_the_edge(client: httpx.AsyncClient, login) -> None:
    admin = await login(Role.admin)
    response = await client.post(
        "/api/users",
        headers=admin.headers,
        json={"username": "nul_user", "password": "long-enough-1", "role": "sales", "display_name": "小\x00王"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("display_name:")
