"""Simulator over real HTTP: callbacks to a real receiver, duplicates, failures, control API."""

from __future__ import annotations

from typing import Any

from bots.gewe import EventKind, GeweClient, parse_callback
from bots.simulator import SimulatorConfig, SimulatorState


async def connect(sim: Any, receiver: Any) -> tuple[GeweClient, dict[str, Any]]:
    """A client with a token, the callback URL pointed at the receiver, and a fresh account."""
    client = GeweClient(sim.api_base)
    await client.get_token_id()
    await client.set_callback(receiver.url)
    account = (await sim.control.post("/_sim/accounts", json={"nickname": "好店小二"})).json()
    return client, account


async def test_injected_private_message_reaches_the_receiver_as_gewe_addmsg(
    simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    client, account = await connect(simulator, callback_receiver)
    customer = account["contacts"][0]["wxid"]
    await simulator.control.post(
        "/_sim/inject", json={"appId": account["appId"], "fromWxid": customer, "content": "这件多少钱？"}
    )
    await wait_until(lambda: bool(callback_receiver.of_type("AddMsg")))
    [payload] = callback_receiver.of_type("AddMsg")
    event = parse_callback(payload, account_wxid=account["wxid"])
    assert (event.kind, event.chat_id, event.text, event.is_group) == (EventKind.TEXT, customer, "这件多少钱？", False)
    assert int(event.new_msg_id) > 2**53
    await client.aclose()


async def test_addmsg_envelope_has_the_sample_shape(simulator: Any, callback_receiver: Any, wait_until: Any) -> None:
    _, account = await connect(simulator, callback_receiver)
    await simulator.control.post("/_sim/inject", json={"appId": account["appId"], "content": "在吗"})
    await wait_until(lambda: bool(callback_receiver.of_type("AddMsg")))
    payload = callback_receiver.of_type("AddMsg")[0]
    assert set(payload) == {"TypeName", "Appid", "Wxid", "Data"}
    assert {"MsgId", "FromUserName", "ToUserName", "MsgType", "Content", "CreateTime", "MsgSource", "NewMsgId"} <= set(
        payload["Data"]
    )
    assert set(payload["Data"]["Content"]) == {"string"}


async def test_group_mention_gives_real_sender_and_mention(
    simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    _, account = await connect(simulator, callback_receiver)
    room = account["chatrooms"][0]
    sender = room["members"][1]
    await simulator.control.post(
        "/_sim/inject",
        json={
            "appId": account["appId"],
            "chatroomId": room["chatroomId"],
            "fromWxid": sender,
            "content": "有优惠吗",
            "mentionAccount": True,
        },
    )
    await wait_until(lambda: bool(callback_receiver.of_type("AddMsg")))
    event = parse_callback(callback_receiver.of_type("AddMsg")[0], account_wxid=account["wxid"])
    assert (event.chat_id, event.sender_wxid, event.mentions_account, event.text) == (
        room["chatroomId"],
        sender,
        True,
        "有优惠吗",
    )


async def test_duplicates_are_delivered_with_the_same_new_msg_id(
    make_simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    async with make_simulator(duplicate_probability=1.0) as sim:
        _, account = await connect(sim, callback_receiver)
        await sim.control.post("/_sim/inject", json={"appId": account["appId"], "content": "你好"})
        await wait_until(lambda: len(callback_receiver.of_type("AddMsg")) == 2)
    first, second = callback_receiver.of_type("AddMsg")
    assert first == second


async def test_late_redelivery_arrives_after_the_delay(
    make_simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    async with make_simulator(late_redelivery_probability=1.0, late_redelivery_delay=0.3) as sim:
        _, account = await connect(sim, callback_receiver)
        await sim.control.post("/_sim/inject", json={"appId": account["appId"], "content": "你好"})
        await wait_until(lambda: len(callback_receiver.of_type("AddMsg")) == 2)
        attempts = [d.attempt for d in sim.state.deliveries if d.payload.get("TypeName") == "AddMsg"]
        late = next(d for d in sim.state.deliveries if d.attempt == "late")
        first = next(d for d in sim.state.deliveries if d.attempt == "first" and d.payload is late.payload)
    assert attempts == ["first", "late"]
    assert late.at - first.at >= 0.3


async def test_taking_an_account_offline_posts_offline_and_fails_sends(
    simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    client, account = await connect(simulator, callback_receiver)
    await simulator.control.post(f"/_sim/accounts/{account['appId']}/offline")
    await wait_until(lambda: bool(callback_receiver.of_type("Offline")))
    event = parse_callback(callback_receiver.of_type("Offline")[0])
    assert (event.kind, event.app_id, event.account_wxid) == (EventKind.OFFLINE, account["appId"], account["wxid"])
    assert not await client.check_online(account["appId"])
    await client.aclose()


async def test_adding_a_friend_posts_modcontacts(simulator: Any, callback_receiver: Any, wait_until: Any) -> None:
    _, account = await connect(simulator, callback_receiver)
    await simulator.control.post(
        "/_sim/friends", json={"appId": account["appId"], "wxid": "wxid_newfriend01", "nickname": "新朋友"}
    )
    await wait_until(lambda: bool(callback_receiver.of_type("ModContacts")))
    event = parse_callback(callback_receiver.of_type("ModContacts")[0], account_wxid=account["wxid"])
    assert event.kind is EventKind.CONTACT_CHANGED
    assert event.contact is not None
    assert (event.contact.wxid, event.contact.nickname) == ("wxid_newfriend01", "新朋友")


async def test_sends_echo_as_self_sent_callbacks_when_enabled(
    make_simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    async with make_simulator(echo_sends=True) as sim:
        client, account = await connect(sim, callback_receiver)
        customer = account["contacts"][0]["wxid"]
        await client.post_text(account["appId"], customer, "欢迎光临")
        await wait_until(lambda: bool(callback_receiver.of_type("AddMsg")))
        await client.aclose()
    event = parse_callback(callback_receiver.of_type("AddMsg")[0], account_wxid=account["wxid"])
    assert (event.is_self_sent, event.chat_id, event.text) == (True, customer, "欢迎光临")


async def test_sent_messages_can_be_filtered_by_recipient(simulator: Any, callback_receiver: Any) -> None:
    client, account = await connect(simulator, callback_receiver)
    first, second = (contact["wxid"] for contact in account["contacts"][:2])
    await client.post_text(account["appId"], first, "一")
    await client.post_text(account["appId"], second, "二")
    response = await simulator.control.get("/_sim/sent", params={"toWxid": second})
    assert [m["content"] for m in response.json()] == ["二"]
    await client.aclose()


async def test_state_lists_accounts_and_failure_modes(simulator: Any) -> None:
    await simulator.control.post("/_sim/accounts", json={"appId": "wx_fixed", "wxid": "wxid_fixed"})
    await simulator.control.post("/_sim/failures", json={"tooOften": 2})
    state = (await simulator.control.get("/_sim/state")).json()
    assert [(a["appId"], a["wxid"]) for a in state["accounts"]] == [("wx_fixed", "wxid_fixed")]
    assert state["failures"]["too_often_sends"] == 2


async def test_unknown_api_path_is_a_404_envelope(simulator: Any) -> None:
    response = await simulator.control.post(simulator.state.config.base_path + "/nope/nothing", json={})
    assert response.status_code == 404
    assert response.json()["ret"] == 404


def test_same_seed_generates_the_same_world() -> None:
    worlds = [SimulatorState(SimulatorConfig(seed=42)).create_account().summary() for _ in range(2)]
    assert worlds[0] == worlds[1]
    assert any(contact["labelIds"] for contact in worlds[0]["contacts"])
