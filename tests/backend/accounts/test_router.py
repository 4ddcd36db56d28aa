"""/api/accounts: CRUD per organisation, QR login through GeWe, contacts, sending, errors from GeWe."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from backend.accounts.models import Account, AccountStatus
from backend.auth.models import Role
from backend.contacts.models import Contact
from backend.messages.models import Message
from backend.realtime.models import RealtimeEvent
from tests.backend.accounts.support import sim_account


async def _create(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/api/accounts", json={"nickname": "门店一号", **body}, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_manager_creates_account_with_callback_url(client, login, settings) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    assert account["status"] == "offline"
    assert account["callback_url"].startswith(f"{settings.public_base_url}/callbacks/gewe/")
    assert {"id", "app_id", "wxid", "nickname", "status"} <= account.keys()


async def test_account_never_returns_the_gewe_token(client, login) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers, gewe_token="secret-gewe-token")
    assert "secret-gewe-token" not in str(account)
    assert account["has_gewe_token"] is True


async def test_gewe_token_is_encrypted_at_rest(client, login, db) -> None:
    manager = await login(Role.manager)
    created = await _create(client, manager.headers, gewe_token="secret-gewe-token")
    async with db.sessionmaker() as session:
        stored = await session.scalar(select(Account.gewe_token_encrypted).where(Account.id == created["id"]))
    assert stored and "secret-gewe-token" not in stored


async def test_sales_reads_accounts_without_callback_url(client, login, make_org) -> None:
    organization = await make_org()
    manager = await login(Role.manager, organization=organization)
    sales = await login(Role.sales, organization=organization)
    await _create(client, manager.headers)
    response = await client.get("/api/accounts", headers=sales.headers)
    assert response.status_code == 200
    assert [item["callback_url"] for item in response.json()["items"]] == [None]


async def test_sales_cannot_create_accounts(client, login) -> None:
    sales = await login(Role.sales)
    response = await client.post("/api/accounts", json={"nickname": "x"}, headers=sales.headers)
    assert response.status_code == 403


async def test_other_organisations_admin_gets_404(client, login) -> None:
    manager = await login(Role.manager)
    stranger = await login(Role.admin)
    account = await _create(client, manager.headers)
    response = await client.get(f"/api/accounts/{account['id']}", headers=stranger.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_other_organisations_admin_cannot_delete(client, login) -> None:
    manager = await login(Role.manager)
    stranger = await login(Role.admin)
    account = await _create(client, manager.headers)
    response = await client.delete(f"/api/accounts/{account['id']}", headers=stranger.headers)
    assert response.status_code == 404


async def test_update_changes_persona_and_pacing(client, login) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    response = await client.patch(
        f"/api/accounts/{account['id']}",
        json={"persona": "热情的导购", "pacing": {"per_minute_cap": 10}, "ai_enabled": False},
        headers=manager.headers,
    )
    assert response.status_code == 200
    assert (response.json()["persona"], response.json()["pacing"], response.json()["ai_enabled"]) == (
        "热情的导购",
        {"per_minute_cap": 10},
        False,
    )


async def test_delete_removes_account(client, login) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    assert (await client.delete(f"/api/accounts/{account['id']}", headers=manager.headers)).status_code == 204
    assert (await client.get(f"/api/accounts/{account['id']}", headers=manager.headers)).status_code == 404


async def test_qr_login_goes_online_and_registers_callback(client, login, sim, db) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    qr = (await client.post(f"/api/accounts/{account['id']}/login-qr", headers=manager.headers)).json()
    waiting = (await client.get(f"/api/accounts/{account['id']}/login-status", headers=manager.headers)).json()
    await sim.control.post("/_sim/login/confirm", json={"uuid": qr["uuid"]})
    done = (await client.get(f"/api/accounts/{account['id']}/login-status", headers=manager.headers)).json()
    assert waiting["login_status"] == 0
    assert done["login_status"] == 2
    assert done["account"]["status"] == "online"
    assert done["account"]["app_id"] == qr["app_id"]
    assert done["account"]["wxid"] == sim.state.accounts[qr["app_id"]].wxid
    assert sim.state.callback_url == done["account"]["callback_url"]


async def test_going_online_publishes_device_status(client, login, sim, db) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    qr = (await client.post(f"/api/accounts/{account['id']}/login-qr", headers=manager.headers)).json()
    await sim.control.post("/_sim/login/confirm", json={"uuid": qr["uuid"]})
    await client.get(f"/api/accounts/{account['id']}/login-status", headers=manager.headers)
    async with db.sessionmaker() as session:
        events = (await session.scalars(select(RealtimeEvent).where(RealtimeEvent.type == "device.status"))).all()
    assert [event.data["status"] for event in events] == ["logging_in", "online"]


async def test_login_qr_reuses_the_known_app_id(client, login, sim) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    first = (await client.post(f"/api/accounts/{account['id']}/login-qr", headers=manager.headers)).json()
    await client.post(f"/api/accounts/{account['id']}/login-qr", headers=manager.headers)
    qr_calls = [call.body for call in sim.state.calls if call.path == "/login/getLoginQrCode"]
    assert qr_calls == [{"appId": ""}, {"appId": first["app_id"]}]


async def test_gewe_failure_is_502_with_gewes_message(client, login, sim) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers, gewe_token="not-a-valid-token")
    response = await client.post(f"/api/accounts/{account['id']}/login-qr", headers=manager.headers)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "gewe_error"
    assert "X-GEWE-TOKEN" in response.json()["error"]["message"]


async def test_login_status_without_login_in_progress_is_409(client, login) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    response = await client.get(f"/api/accounts/{account['id']}/login-status", headers=manager.headers)
    assert response.status_code == 409


async def test_sync_contacts_stores_friends_and_groups(client, login, sim, make_account) -> None:
    manager = await login(Role.manager)
    remote = await sim_account(sim)
    account = await make_account(manager.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    response = await client.post(f"/api/accounts/{account.id}/sync-contacts", headers=manager.headers)
    assert response.json() == {"friends": 6, "groups": 2, "total": 8}


async def test_synced_contacts_carry_label_names_as_tags(client, login, sim, make_account, db) -> None:
    manager = await login(Role.manager)
    remote = await sim_account(sim)
    account = await make_account(manager.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    await client.post(f"/api/accounts/{account.id}/sync-contacts", headers=manager.headers)
    labels = {label["labelId"]: label["labelName"] for label in remote["labels"]}
    expected = {c["wxid"]: sorted(labels[i] for i in c["labelIds"]) for c in remote["contacts"]}
    async with db.sessionmaker() as session:
        rows = (await session.execute(select(Contact.wxid, Contact.tags).where(Contact.is_group.is_(False)))).all()
    assert {wxid: sorted(tags) for wxid, tags in rows} == expected


async def test_contacts_filter_by_tag_and_group(client, login, sim, make_account) -> None:
    manager = await login(Role.manager)
    remote = await sim_account(sim)
    account = await make_account(manager.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    await client.post(f"/api/accounts/{account.id}/sync-contacts", headers=manager.headers)
    vip_ids = {label["labelId"] for label in remote["labels"] if label["labelName"] == "VIP"}
    vips = {c["wxid"] for c in remote["contacts"] if vip_ids & set(c["labelIds"])}
    by_tag = (await client.get(f"/api/accounts/{account.id}/contacts?tag=VIP", headers=manager.headers)).json()
    groups = (await client.get(f"/api/accounts/{account.id}/contacts?is_group=true", headers=manager.headers)).json()
    assert {c["wxid"] for c in by_tag["items"]} == vips
    assert groups["total"] == 2


async def test_send_text_is_recorded_as_sent_with_gewes_new_msg_id(client, login, sim, make_account, db) -> None:
    sales = await login(Role.sales)
    remote = await sim_account(sim)
    account = await make_account(sales.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    friend = remote["contacts"][0]["wxid"]
    response = await client.post(
        f"/api/accounts/{account.id}/messages", json={"to_wxid": friend, "text": "您好"}, headers=sales.headers
    )
    sent = sim.state.sent_messages(app_id=remote["appId"])
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["new_msg_id"]) == ("sent", sent[0].new_msg_id)


async def test_send_to_offline_account_is_marked_failed_with_gewes_message(
    client, login, sim, make_account, db
) -> None:
    sales = await login(Role.sales)
    remote = await sim_account(sim)
    account = await make_account(sales.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    await sim.control.post(f"/_sim/accounts/{remote['appId']}/offline")
    response = await client.post(
        f"/api/accounts/{account.id}/messages",
        json={"to_wxid": remote["contacts"][0]["wxid"], "text": "在吗"},
        headers=sales.headers,
    )
    async with db.sessionmaker() as session:
        stored = await session.scalar(select(Message).where(Message.account_id == account.id))
    assert stored is not None
    assert (stored.status, stored.error) == ("failed", "发送消息失败-微信已离线(-1)")
    assert response.json()["error"] == "发送消息失败-微信已离线(-1)"


async def test_send_publishes_message_status(client, login, sim, make_account, db) -> None:
    sales = await login(Role.sales)
    remote = await sim_account(sim)
    account = await make_account(sales.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    await client.post(
        f"/api/accounts/{account.id}/messages",
        json={"to_wxid": remote["contacts"][0]["wxid"], "text": "您好"},
        headers=sales.headers,
    )
    async with db.sessionmaker() as session:
        statuses = (
            await session.scalars(select(RealtimeEvent.data).where(RealtimeEvent.type == "message.status"))
        ).all()
    assert [data["status"] for data in statuses] == ["sent"]


async def test_logout_marks_account_offline(client, login, sim, make_account) -> None:
    manager = await login(Role.manager)
    remote = await sim_account(sim)
    account = await make_account(manager.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    response = await client.post(f"/api/accounts/{account.id}/logout", headers=manager.headers)
    assert response.json()["status"] == AccountStatus.offline
    assert sim.state.accounts[remote["appId"]].online is False


async def test_message_log_lists_the_accounts_messages(client, login, sim, make_account, db) -> None:
    sales = await login(Role.sales)
    remote = await sim_account(sim)
    account = await make_account(sales.user.organization, app_id=remote["appId"], wxid=remote["wxid"])
    await client.post(
        f"/api/accounts/{account.id}/messages",
        json={"to_wxid": remote["contacts"][0]["wxid"], "text": "第一条"},
        headers=sales.headers,
    )
    log = (await client.get(f"/api/accounts/{account.id}/messages", headers=sales.headers)).json()
    async with db.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(Message))
    assert [m["text"] for m in log] == ["第一条"]
    assert count == 1


async def test_contacts_offset_beyond_bigint_is_422(client, login) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: asyncpg could not bind the OFFSET (out of int64 range), 503.
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    response = await client.get(f"/api/accounts/{account['id']}/contacts?offset={2**70}", headers=manager.headers)
    assert response.status_code == 422
    assert "offset" in response.json()["error"]["message"]


@pytest.mark.parametrize("field", ["nickname", "persona", "app_id", "gewe_token"])
async def test_a_nul_character_in_account_text_is_422_at_the_edge(client, login, field: str) -> None:
    manager = await login(Role.manager)
    response = await client.post("/api/accounts", json={"nickname": "门店", field: "abc\x00"}, headers=manager.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["message"].startswith(f"{field}:")


async def test_a_nul_character_in_the_contacts_tag_filter_is_422_at_the_edge(client, login) -> None:
    manager = await login(Role.manager)
    account = await _create(client, manager.headers)
    response = await client.get(
        f"/api/accounts/{account['id']}/contacts", params={"tag": "VIP\x00"}, headers=manager.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
