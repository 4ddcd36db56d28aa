"""GeWe client against the real simulator over HTTP: login, sends, typed errors, retry rules."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.gewe import (
    GeweClient,
    GeweOfflineError,
    GeweServerError,
    GeweTokenError,
    GeweTooOftenError,
    GeweTransportError,
    RetryPolicy,
)
from bots.simulator.state import OFFLINE_MSG, TOO_OFTEN_MSG, SimAccount

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


@pytest.fixture
async def client(simulator: Any) -> AsyncIterator[GeweClient]:
    """A client with a fresh token against the running simulator."""
    gewe = GeweClient(simulator.api_base, retry=FAST_RETRY, timeout=2.0)
    await gewe.get_token_id()
    yield gewe
    await gewe.aclose()


@pytest.fixture
def account(simulator: Any) -> SimAccount:
    """A logged-in simulated account."""
    return simulator.state.create_account(nickname="好店小二")


def calls_to(simulator: Any, path: str) -> int:
    """How many requests reached the simulator on this GeWe path."""
    return sum(1 for call in simulator.state.calls if call.path == path)


async def test_qr_login_completes_after_confirmation(client: GeweClient, simulator: Any) -> None:
    qr = await client.get_login_qr_code()
    assert qr.app_id.startswith("wx_")
    assert qr.qr_data == f"http://weixin.qq.com/x/{qr.uuid}"
    waiting = await client.check_login(qr.app_id, qr.uuid)
    assert not waiting.logged_in
    response = await simulator.control.post("/_sim/login/confirm", json={"uuid": qr.uuid})
    assert response.status_code == 200
    status = await client.check_login(qr.app_id, qr.uuid)
    assert status.logged_in
    assert status.login_info is not None
    assert status.login_info.wxid == simulator.state.accounts[qr.app_id].wxid
    assert await client.check_online(qr.app_id)


async def test_qr_login_auto_confirms_after_configured_delay(make_simulator: Any) -> None:
    async with (
        make_simulator(auto_confirm_login_after=0.2) as sim,
        GeweClient(sim.api_base, retry=FAST_RETRY) as gewe,
    ):
        await gewe.get_token_id()
        qr = await gewe.get_login_qr_code()
        first = await gewe.check_login(qr.app_id, qr.uuid)
        await asyncio.sleep(0.25)
        later = await gewe.check_login(qr.app_id, qr.uuid)
    assert (first.logged_in, later.logged_in) == (False, True)
    assert later.login_info is not None


async def test_relogin_with_stored_app_id_keeps_the_account(
    client: GeweClient, simulator: Any, account: SimAccount
) -> None:
    qr = await client.get_login_qr_code(account.app_id)
    simulator.state.confirm_login(uuid=qr.uuid)
    status = await client.check_login(account.app_id, qr.uuid)
    assert qr.app_id == account.app_id
    assert status.login_info is not None
    assert status.login_info.wxid == account.wxid


async def test_logout_and_reconnect_toggle_online(client: GeweClient, account: SimAccount) -> None:
    await client.logout(account.app_id)
    assert not await client.check_online(account.app_id)
    await client.reconnect(account.app_id)
    assert await client.check_online(account.app_id)


async def test_sent_text_is_recorded_with_big_string_ids(
    client: GeweClient, simulator: Any, account: SimAccount
) -> None:
    friend = next(iter(account.contacts))
    result = await client.post_text(account.app_id, friend, "您好，新品到了")
    assert int(result.new_msg_id) > 2**53
    response = await simulator.control.get("/_sim/sent", params={"appId": account.app_id, "toWxid": friend})
    sent = response.json()
    assert [(m["content"], m["newMsgId"]) for m in sent] == [("您好，新品到了", result.new_msg_id)]


async def test_group_text_carries_ats(client: GeweClient, simulator: Any, account: SimAccount) -> None:
    room = next(iter(account.chatrooms.values()))
    member = room.member_wxids[1]
    await client.post_text(account.app_id, room.chatroom_id, "@小王\u2005您的快递到了", ats=[member])
    assert simulator.state.sent[-1].ats == [member]


@pytest.mark.parametrize(
    ("method", "args", "kind"),
    [
        ("post_image", ("https://example.com/a.jpg",), "image"),
        ("post_file", ("https://example.com/a.pdf", "价目表.pdf"), "file"),
        ("post_app_msg", ("<appmsg><title>x</title><type>5</type></appmsg>",), "appmsg"),
    ],
)
async def test_media_sends_are_recorded(
    client: GeweClient, simulator: Any, account: SimAccount, method: str, args: tuple[str, ...], kind: str
) -> None:
    friend = next(iter(account.contacts))
    await getattr(client, method)(account.app_id, friend, *args)
    assert (simulator.state.sent[-1].kind, simulator.state.sent[-1].content) == (kind, args[0])


async def test_link_send_is_recorded(client: GeweClient, simulator: Any, account: SimAccount) -> None:
    friend = next(iter(account.contacts))
    await client.post_link(
        account.app_id, friend, title="春季上新", desc="全场8折", link_url="https://shop.example/s", thumb_url=""
    )
    assert simulator.state.sent[-1].extra["title"] == "春季上新"


async def test_revoke_marks_the_message_recalled(client: GeweClient, simulator: Any, account: SimAccount) -> None:
    sent = await client.post_text(account.app_id, next(iter(account.contacts)), "发错了")
    await client.revoke_msg(account.app_id, sent)
    assert simulator.state.sent[-1].revoked


async def test_offline_account_raises_offline_error_with_gewe_msg(
    client: GeweClient, simulator: Any, account: SimAccount
) -> None:
    await simulator.control.post(f"/_sim/accounts/{account.app_id}/offline")
    with pytest.raises(GeweOfflineError) as caught:
        await client.post_text(account.app_id, next(iter(account.contacts)), "hi")
    assert (caught.value.msg, caught.value.ret, caught.value.path) == (OFFLINE_MSG, 500, "/message/postText")


async def test_too_often_raises_too_often_error(client: GeweClient, simulator: Any, account: SimAccount) -> None:
    await simulator.control.post("/_sim/failures", json={"tooOften": 1})
    with pytest.raises(GeweTooOftenError) as caught:
        await client.post_text(account.app_id, next(iter(account.contacts)), "hi")
    assert caught.value.msg == TOO_OFTEN_MSG


async def test_missing_token_raises_token_error(simulator: Any, account: SimAccount) -> None:
    async with GeweClient(simulator.api_base, token="", retry=FAST_RETRY) as gewe:
        with pytest.raises(GeweTokenError):
            await gewe.check_online(account.app_id)


async def test_read_is_retried_after_http_500_and_succeeds(
    client: GeweClient, simulator: Any, account: SimAccount
) -> None:
    await simulator.control.post("/_sim/failures", json={"http500": 2})
    contacts = await client.fetch_contacts_list(account.app_id)
    assert sorted(contacts.friends) == sorted(account.contacts)
    assert calls_to(simulator, "/contacts/fetchContactsList") == 3


async def test_read_gives_up_after_the_retry_budget(client: GeweClient, simulator: Any, account: SimAccount) -> None:
    await simulator.control.post("/_sim/failures", json={"http500": 5})
    with pytest.raises(GeweServerError):
        await client.check_online(account.app_id)
    assert calls_to(simulator, "/login/checkOnline") == FAST_RETRY.attempts


async def test_send_is_not_retried_after_http_500(client: GeweClient, simulator: Any, account: SimAccount) -> None:
    await simulator.control.post("/_sim/failures", json={"http500": 1})
    with pytest.raises(GeweServerError):
        await client.post_text(account.app_id, next(iter(account.contacts)), "只发一次")
    assert calls_to(simulator, "/message/postText") == 1


async def test_send_is_not_retried_after_read_timeout(simulator: Any, account: SimAccount) -> None:
    async with GeweClient(simulator.api_base, retry=FAST_RETRY, timeout=0.3) as gewe:
        await gewe.get_token_id()
        await simulator.control.post("/_sim/failures", json={"slow": 1, "slowSeconds": 1.0})
        with pytest.raises(GeweTransportError) as caught:
            await gewe.post_text(account.app_id, next(iter(account.contacts)), "只发一次")
    assert caught.value.maybe_delivered
    assert calls_to(simulator, "/message/postText") == 1
    assert [m.content for m in simulator.state.sent] == ["只发一次"]


async def test_read_is_retried_after_read_timeout(simulator: Any, account: SimAccount) -> None:
    async with GeweClient(simulator.api_base, retry=FAST_RETRY, timeout=0.3) as gewe:
        await gewe.get_token_id()
        await simulator.control.post("/_sim/failures", json={"slow": 1, "slowSeconds": 1.0})
        assert await gewe.check_online(account.app_id)
    assert calls_to(simulator, "/login/checkOnline") == 2


def free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_connect_error_is_retried_with_growing_backoff_then_raised_as_not_delivered() -> None:
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)

    retry = RetryPolicy(attempts=4, base_delay=1.0, max_delay=3.0)
    async with GeweClient(f"http://127.0.0.1:{free_port()}/v2/api", retry=retry, sleep=record_sleep) as gewe:
        with pytest.raises(GeweTransportError) as caught:
            await gewe.post_text("wx_x", "wxid_y", "hi")
    assert not caught.value.maybe_delivered
    assert len(delays) == 3
    assert [0.5 <= delays[0] <= 1.0, 1.0 <= delays[1] <= 2.0, 1.5 <= delays[2] <= 3.0] == [True] * 3


async def test_brief_info_is_fetched_in_batches_of_100(client: GeweClient, simulator: Any, account: SimAccount) -> None:
    wxids = [*account.contacts, *[f"wxid_unknown{i}" for i in range(245)]]
    infos = await client.get_brief_info(account.app_id, wxids)
    assert sorted(info.user_name for info in infos) == sorted(account.contacts)
    assert calls_to(simulator, "/contacts/getBriefInfo") == 3


async def test_chatroom_members_are_listed(client: GeweClient, account: SimAccount) -> None:
    room = next(iter(account.chatrooms.values()))
    members = await client.get_chatroom_member_list(account.app_id, room.chatroom_id)
    assert [m.wxid for m in members.members] == room.member_wxids
    assert members.owner == account.wxid


async def test_labels_can_be_added_assigned_and_listed(client: GeweClient, account: SimAccount) -> None:
    label = await client.add_label(account.app_id, "复购客户")
    friend = next(iter(account.contacts))
    await client.modify_label_members(account.app_id, [label.label_id], [friend])
    names = [existing.label_name for existing in await client.list_labels(account.app_id)]
    [info] = await client.get_brief_info(account.app_id, [friend])
    assert "复购客户" in names
    assert info.label_ids == [str(label.label_id)]


async def test_set_callback_sends_the_test_packet(client: GeweClient, callback_receiver: Any, wait_until: Any) -> None:
    await client.set_callback(callback_receiver.url)
    await wait_until(lambda: bool(callback_receiver.received))
    assert callback_receiver.received[0] == {"testMsg": "回调地址链接成功！", "token": client.token}
