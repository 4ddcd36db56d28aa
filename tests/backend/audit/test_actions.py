"""Every administrative action leaves exactly one audit row: the actor, the target, before/after without secrets."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.auth.models import Role
from backend.core.db import Database, utcnow
from tests.backend.accounts.support import Sim, sim_account
from tests.fixtures.db import Login


async def rows(db: Database, organization_id: uuid.UUID, action: str, target_id: str) -> list[AuditEvent]:
    """The organisation's audit rows of one action on one target, oldest first."""
    async with db.sessionmaker() as session:
        found = await session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.organization_id == organization_id,
                AuditEvent.action == action,
                AuditEvent.target_id == target_id,
            )
            .order_by(AuditEvent.id)
        )
        return list(found)


async def one_row(db: Database, who: Login, action: str, target_id: object) -> AuditEvent:
    """The single row of an action on a target in the actor's organisation, checked to name the actor."""
    (row,) = await rows(db, who.user.organization_id, action, str(target_id))
    assert row.actor_id == who.user.id
    return row


async def create_account(client: httpx.AsyncClient, who: Login, **body: Any) -> dict[str, Any]:
    """An account created through the API."""
    response = await client.post("/api/accounts", json={"nickname": "门店一号", **body}, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_creating_an_account_is_audited_without_its_gewe_token(client: httpx.AsyncClient, login, db) -> None:
    manager = await login(Role.manager)
    account = await create_account(client, manager, gewe_token="gewe-secret-token")
    row = await one_row(db, manager, "account.create", account["id"])
    assert row.target_type == "account"
    assert row.detail["after"]["nickname"] == "门店一号"
    assert row.detail["after"]["has_gewe_token"] is True
    assert "gewe-secret-token" not in str(row.detail)


async def test_updating_an_account_is_audited_with_the_changed_fields_before_and_after(
    client: httpx.AsyncClient, login, db
) -> None:
    manager = await login(Role.manager)
    account = await create_account(client, manager)
    await client.patch(
        f"/api/accounts/{account['id']}",
        json={"nickname": "门店二号", "ai_enabled": False, "gewe_token": "new-secret-token"},
        headers=manager.headers,
    )
    row = await one_row(db, manager, "account.update", account["id"])
    assert row.detail["before"] == {
        "nickname": "门店一号",
        "ai_enabled": True,
        "has_gewe_token": False,
        "gewe_token": "(hidden)",
    }
    assert row.detail["after"] == {
        "nickname": "门店二号",
        "ai_enabled": False,
        "has_gewe_token": True,
        "gewe_token": "(changed)",
    }
    assert "new-secret-token" not in str(row.detail)


async def test_deleting_an_account_is_audited_and_the_row_outlives_it(client: httpx.AsyncClient, login, db) -> None:
    manager = await login(Role.manager)
    account = await create_account(client, manager)
    assert (await client.delete(f"/api/accounts/{account['id']}", headers=manager.headers)).status_code == 204
    row = await one_row(db, manager, "account.delete", account["id"])
    assert row.detail["before"]["nickname"] == "门店一号"


async def test_a_qr_relogin_of_an_account_is_audited(client: httpx.AsyncClient, login, db, sim: Sim) -> None:
    manager = await login(Role.manager)
    account = await create_account(client, manager)
    response = await client.post(f"/api/accounts/{account['id']}/login-qr", headers=manager.headers)
    assert response.status_code == 200, response.text
    row = await one_row(db, manager, "account.login", account["id"])
    assert row.detail["before"] == {"status": "offline", "app_id": None}
    assert row.detail["after"] == {"status": "logging_in", "app_id": response.json()["app_id"]}


async def test_logging_an_account_out_is_audited(client: httpx.AsyncClient, login, db, sim: Sim, make_account) -> None:
    manager = await login(Role.manager)
    remote = await sim_account(sim)
    account = await make_account(manager.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    response = await client.post(f"/api/accounts/{account.id}/logout", headers=manager.headers)
    assert response.status_code == 200, response.text
    row = await one_row(db, manager, "account.logout", account.id)
    assert (row.detail["before"], row.detail["after"]) == ({"status": "online"}, {"status": "offline"})


async def test_adding_a_price_is_audited_with_the_price_it_replaces(client: httpx.AsyncClient, login, db) -> None:
    finance = await login(Role.finance)
    body = {"provider": "deepseek", "model": "deepseek-chat", "input_per_million": "2", "output_per_million": "3"}
    first = await client.post("/api/cost/prices", json=body, headers=finance.headers)
    later = (utcnow() + timedelta(hours=1)).isoformat()
    second = await client.post(
        "/api/cost/prices", json={**body, "input_per_million": "1.5", "effective_from": later}, headers=finance.headers
    )
    assert second.status_code == 201, second.text
    row = await one_row(db, finance, "price.create", second.json()["id"])
    assert row.target_type == "price"
    assert (row.detail["before"]["id"], row.detail["before"]["input_per_million"]) == (first.json()["id"], "2")
    assert row.detail["after"]["input_per_million"] == "1.5"


async def test_creating_a_budget_is_audited_with_the_webhooks_host_only(client: httpx.AsyncClient, login, db) -> None:
    finance = await login(Role.finance)
    response = await client.post(
        "/api/cost/budgets",
        json={"name": "月度", "quota": "50", "webhook_url": "https://1.1.1.1/hooks/send?key=s3cr3t"},
        headers=finance.headers,
    )
    assert response.status_code == 201, response.text
    row = await one_row(db, finance, "budget.create", response.json()["id"])
    assert row.detail["after"]["webhook"] == "https://1.1.1.1"
    assert "s3cr3t" not in str(row.detail)


async def test_updating_a_budget_is_audited_with_the_changed_fields(client: httpx.AsyncClient, login, db) -> None:
    finance = await login(Role.finance)
    created = await client.post("/api/cost/budgets", json={"name": "月度", "quota": "50"}, headers=finance.headers)
    await client.patch(f"/api/cost/budgets/{created.json()['id']}", json={"quota": "80"}, headers=finance.headers)
    row = await one_row(db, finance, "budget.update", created.json()["id"])
    assert row.detail == {"before": {"quota": "50"}, "after": {"quota": "80"}}


async def test_deleting_a_budget_is_audited(client: httpx.AsyncClient, login, db) -> None:
    finance = await login(Role.finance)
    created = await client.post("/api/cost/budgets", json={"name": "月度", "quota": "50"}, headers=finance.headers)
    await client.delete(f"/api/cost/budgets/{created.json()['id']}", headers=finance.headers)
    row = await one_row(db, finance, "budget.delete", created.json()["id"])
    assert row.detail["before"]["name"] == "月度"


async def test_creating_a_user_is_audited_without_the_password(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    response = await client.post(
        "/api/users",
        json={"username": "new_sales", "password": "long-enough-1", "role": "sales"},
        headers=admin.headers,
    )
    row = await one_row(db, admin, "user.create", response.json()["id"])
    assert row.detail["after"] == {
        "username": "new_sales",
        "display_name": "new_sales",
        "role": "sales",
        "is_active": True,
    }
    assert "long-enough-1" not in str(row.detail)


async def test_changing_a_users_role_is_audited_as_a_role_change(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    sales = await login(Role.sales, organization=admin.user.organization)
    await client.patch(f"/api/users/{sales.user.id}", json={"role": "manager"}, headers=admin.headers)
    row = await one_row(db, admin, "user.role_change", sales.user.id)
    assert row.detail == {"before": {"role": "sales"}, "after": {"role": "manager"}}


async def test_disabling_a_user_is_audited_as_a_disable(client: httpx.AsyncClient, login, db) -> None:
    admin = await login(Role.admin)
    sales = await login(Role.sales, organization=admin.user.organization)
    await client.patch(f"/api/users/{sales.user.id}", json={"is_active": False}, headers=admin.headers)
    row = await one_row(db, admin, "user.disable", sales.user.id)
    assert row.detail["after"] == {"is_active": False}


async def test_renaming_a_user_and_resetting_the_password_is_audited_as_an_update(
    client: httpx.AsyncClient, login, db
) -> None:
    admin = await login(Role.admin)
    sales = await login(Role.sales, organization=admin.user.organization)
    await client.patch(
        f"/api/users/{sales.user.id}",
        json={"display_name": "小李", "password": "another-pass-2"},
        headers=admin.headers,
    )
    row = await one_row(db, admin, "user.update", sales.user.id)
    assert row.detail["after"] == {"display_name": "小李", "password": "(changed)"}
    assert "another-pass-2" not in str(row.detail)


async def test_changing_the_organisations_conversation_policy_is_audited_before_and_after(
    client: httpx.AsyncClient, login, db
) -> None:
    manager = await login(Role.manager)
    for minutes in (10, 20):
        await client.put(
            "/api/conversations/policy", json={"settings": {"idle_release_minutes": minutes}}, headers=manager.headers
        )
    organization_id = manager.user.organization_id
    first, second = await rows(db, organization_id, "conversation.policy", str(organization_id))
    assert (first.actor_id, second.actor_id) == (manager.user.id, manager.user.id)
    assert second.target_type == "organization"
    assert second.detail == {"before": {"idle_release_minutes": 10}, "after": {"idle_release_minutes": 20}}
