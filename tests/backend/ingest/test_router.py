"""POST /callbacks/gewe/{secret}: checked, stored before the answer, deduplicated, processed once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from backend.accounts.models import Account, AccountStatus
from backend.contacts.models import Contact
from backend.core.db import utcnow
from backend.ingest.models import InboxEntry
from backend.messages.models import Conversation, Message
from backend.realtime.models import RealtimeEvent
from tests.backend.accounts.support import SAMPLE_ACCOUNT_WXID, SAMPLE_APP_ID, wait_until
from tests.backend.ingest.payloads import SAMPLE_NAMES, add_msg, load_sample

APP_ID = "wx_testaccount000000001"
ACCOUNT_WXID = "wxid_salesaccount01"
CUSTOMER = "wxid_customer0001"


async def _post(client: Any, account: Account, payload: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post(f"/callbacks/gewe/{account.callback_secret}", content=body)


async def _count(db: Any, model: Any, *where: Any) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _all_processed(db: Any) -> bool:
    return await _count(db, InboxEntry, InboxEntry.state == "accepted") == 0


async def test_callback_is_answered_ok(client, account) -> None:
    response = await _post(client, account, add_msg(APP_ID, from_wxid=CUSTOMER, to_wxid=ACCOUNT_WXID))
    assert response.json() == {"ok": True}


async def test_same_callback_three_times_is_stored_once(client, account, db) -> None:
    payload = add_msg(APP_ID, from_wxid=CUSTOMER, to_wxid=ACCOUNT_WXID)
    answers = [(await _post(client, account, payload)).json() for _ in range(3)]
    await wait_until(lambda: _all_processed(db))
    assert answers == [{"ok": True}, {"ok": True, "duplicate": True}, {"ok": True, "duplicate": True}]
    assert (await _count(db, InboxEntry), await _count(db, Message)) == (1, 1)


async def test_duplicate_an_hour_after_processing_is_not_processed_again(client, account, db) -> None:
    payload = add_msg(APP_ID, from_wxid=CUSTOMER, to_wxid=ACCOUNT_WXID)
    await _post(client, account, payload)
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        hour_ago = utcnow() - timedelta(hours=1)
        await session.execute(update(InboxEntry).values(accepted_at=hour_ago, processed_at=hour_ago))
        await session.commit()
    late = await _post(client, account, payload)
    assert late.json() == {"ok": True, "duplicate": True}
    assert (await _count(db, Message), await _count(db, RealtimeEvent, RealtimeEvent.type == "message.new")) == (1, 1)


async def test_string_and_number_ids_are_the_same_message(client, account, db) -> None:
    payload = add_msg(APP_ID, from_wxid=CUSTOMER, to_wxid=ACCOUNT_WXID)
    as_string = json.loads(json.dumps(payload))
    as_string["Data"]["NewMsgId"] = str(payload["Data"]["NewMsgId"])
    await _post(client, account, payload)
    assert (await _post(client, account, as_string)).json()["duplicate"] is True


async def test_message_id_above_2_pow_53_is_kept_exactly(client, account, db) -> None:
    payload = add_msg(APP_ID, from_wxid=CUSTOMER, to_wxid=ACCOUNT_WXID, new_msg_id="9223372036854775807")
    await _post(client, account, payload)
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        assert await session.scalar(select(Message.new_msg_id)) == "9223372036854775807"


async def test_unknown_secret_is_404_with_reason(client) -> None:
    response = await client.post("/callbacks/gewe/nope", json={"TypeName": "AddMsg"})
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "unknown_callback", "message": "no account has this callback URL"}


async def test_malformed_json_is_400_with_reason(client, account) -> None:
    response = await _post(client, account, b'{"TypeName": "AddMsg", ')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


async def test_malformed_body_is_kept_for_inspection(client, account, db) -> None:
    await _post(client, account, b"[1, 2")
    async with db.sessionmaker() as session:
        entry = await session.scalar(select(InboxEntry))
    assert entry is not None
    assert (entry.state, entry.raw) == ("malformed", "[1, 2")


async def test_a_wxid_longer_than_any_wechat_id_is_400_and_kept(client, account, db) -> None:
    response = await _post(client, account, add_msg(APP_ID, from_wxid="wxid_" + "x" * 200, to_wxid=ACCOUNT_WXID))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "malformed_callback")
    assert await _count(db, InboxEntry, InboxEntry.state == "malformed") == 1


async def test_test_packet_answers_ok_and_stores_nothing(client, account, db) -> None:
    response = await _post(client, account, {"testMsg": "回调地址链接成功！", "token": "t"})
    assert response.json() == {"ok": True}
    assert await _count(db, InboxEntry) == 0


async def test_appid_of_another_account_is_403_and_kept(client, account, db) -> None:
    response = await _post(client, account, add_msg("wx_other", from_wxid=CUSTOMER, to_wxid=ACCOUNT_WXID))
    assert response.status_code == 403
    assert await _count(db, InboxEntry, InboxEntry.state == "rejected") == 1


async def test_customer_message_creates_contact_conversation_and_message(client, account, db) -> None:
    await _post(client, account, add_msg(APP_ID, from_wxid=CUSTOMER, to_wxid=ACCOUNT_WXID, content="有货吗"))
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        message = await session.scalar(select(Message))
        conversation = await session.scalar(select(Conversation))
        contact = await session.scalar(select(Contact))
    assert message is not None and conversation is not None and contact is not None
    assert (message.text, message.direction, message.sent_by, message.status) == (
        "有货吗",
        "in",
        "customer",
        "received",
    )
    assert (conversation.chat_wxid, conversation.unread_count, conversation.mode) == (CUSTOMER, 1, "ai")
    assert contact.wxid == CUSTOMER


async def test_message_new_event_goes_to_org_account_and_conversation_rooms(client, account, db) -> None:
    await _post(client, account, add_msg(APP_ID, from_wxid=CUSTOMER, to_wxid=ACCOUNT_WXID))
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        event = await session.scalar(select(RealtimeEvent).where(RealtimeEvent.type == "message.new"))
        conversation_id = await session.scalar(select(Conversation.id))
    assert event is not None
    assert event.rooms == [
        f"org:{account.organization_id}",
        f"account:{account.id}",
        f"conversation:{conversation_id}",
    ]


async def test_group_message_keeps_the_real_sender(client, account, db) -> None:
    payload = add_msg(APP_ID, from_wxid="123456@chatroom", to_wxid=ACCOUNT_WXID, content=f"{CUSTOMER}:\n大家好")
    await _post(client, account, payload)
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        message = await session.scalar(select(Message))
    assert message is not None
    assert (message.sender_wxid, message.text) == (CUSTOMER, "大家好")


async def test_self_sent_message_typed_on_the_phone_is_recorded_as_phone(client, account, db) -> None:
    await _post(client, account, add_msg(APP_ID, from_wxid=ACCOUNT_WXID, to_wxid=CUSTOMER, content="我来回复"))
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        message = await session.scalar(select(Message))
    assert message is not None
    assert (message.sent_by, message.direction, message.is_self_sent) == ("phone", "out", True)


async def test_echo_of_our_own_send_is_marked_not_duplicated(client, login, account, db, sim) -> None:
    remote = await sim.control.post("/_sim/accounts", json={"appId": APP_ID, "wxid": ACCOUNT_WXID})
    friend = remote.json()["contacts"][0]["wxid"]
    async with db.sessionmaker() as session:
        await session.execute(update(Account).values(organization_id=account.organization_id))
        await session.commit()
    from backend.auth.models import Role
    from backend.organizations.models import Organization

    async with db.sessionmaker() as session:
        organization = await session.get(Organization, account.organization_id)
    sales = await login(Role.sales, organization=organization)
    sent = await client.post(
        f"/api/accounts/{account.id}/messages", json={"to_wxid": friend, "text": "您好"}, headers=sales.headers
    )
    echo = add_msg(APP_ID, from_wxid=ACCOUNT_WXID, to_wxid=friend, content="您好", new_msg_id=sent.json()["new_msg_id"])
    await _post(client, account, echo)
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        messages = (await session.scalars(select(Message))).all()
    assert [(m.sent_by, m.echoed_at is not None) for m in messages] == [("staff", True)]


async def test_offline_callback_marks_account_offline_with_device_status(client, account, db) -> None:
    await _post(client, account, {"TypeName": "Offline", "Appid": APP_ID, "Wxid": ACCOUNT_WXID})
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        status = await session.scalar(select(Account.status).where(Account.id == account.id))
        events = (await session.scalars(select(RealtimeEvent.data).where(RealtimeEvent.type == "device.status"))).all()
    assert status == AccountStatus.offline
    assert [data["status"] for data in events][:1] == ["offline"]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
async def test_official_sample_is_accepted_and_processed(name, client, make_org, make_account, db) -> None:
    organization = await make_org()
    account = await make_account(organization, app_id=SAMPLE_APP_ID, wxid=SAMPLE_ACCOUNT_WXID)
    response = await _post(client, account, load_sample(name))
    await wait_until(lambda: _all_processed(db))
    assert response.status_code == 200
    assert await _count(db, InboxEntry, InboxEntry.state == "processed") == 1


async def test_text_sample_stores_its_text_from_the_customer(client, make_org, make_account, db) -> None:
    organization = await make_org()
    account = await make_account(organization, app_id=SAMPLE_APP_ID, wxid=SAMPLE_ACCOUNT_WXID)
    await _post(client, account, load_sample("01-text-private.json"))
    await wait_until(lambda: _all_processed(db))
    async with db.sessionmaker() as session:
        message = await session.scalar(select(Message))
    assert message is not None
    assert (message.text, message.sender_wxid, message.new_msg_id) == (
        "123",
        "wxid_phyyedw9xap22",
        "7773749793478223190",
    )


@pytest.mark.parametrize(
    "secret", ["%00", "abc%00def", "tab%09in", "%C3%A9t%C3%A9", "with%20space", "x" * 65], ids=repr
)
async def test_a_callback_secret_no_account_can_have_is_404_without_a_database_query(
    client, app, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: /callbacks/gewe/%00 reached asyncpg with the NUL (500, then 422).
    repository = app.other_asgi_app.state.channel.repository
    looked_up: list[str] = []

    async def find_account(found: str) -> None:
        looked_up.append(found)

    monkeypatch.setattr(repository, "find_account", find_account)
    response = await client.post(f"/callbacks/gewe/{secret}", content=b"{}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_callback"
    assert looked_up == []
