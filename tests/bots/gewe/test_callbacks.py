"""Callback parser: every sample, both key casings, string ids, groups, non-people, garbage shapes."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bots.gewe import CallbackFormatError, EventKind, parse_callback

SAMPLES_DIR = Path("/work/shared/gewe/samples")
ACCOUNT = "wxid_0xsqb3o0tsvz22"
CUSTOMER = "wxid_phyyedw9xap22"
APP_ID = "wx_wR_U4zPj2M_OTS3BCyoE4"
ROOM = "34757816141@chatroom"


def load_sample(name: str) -> dict[str, Any]:
    """A sample payload as GeWe posts it."""
    return json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))


def snake_case_keys(value: Any) -> Any:
    """The payload as newer GeWe builds send it: lower-case snake_case keys."""
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): snake_case_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_case_keys(item) for item in value]
    return value


def stringify_ids(value: Any) -> Any:
    """The payload with every integer turned into a string, as some senders do."""
    if isinstance(value, dict):
        return {key: stringify_ids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [stringify_ids(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


SAMPLE_EXPECTATIONS: list[tuple[str, EventKind, dict[str, Any]]] = [
    (
        "01-text-private.json",
        EventKind.TEXT,
        {"text": "123", "chat_id": CUSTOMER, "new_msg_id": "7773749793478223190", "create_time": 1705043418},
    ),
    ("04-image.json", EventKind.IMAGE, {"chat_id": CUSTOMER, "new_msg_id": "6906713067183447582"}),
    ("07-appmsg-link-type5.json", EventKind.LINK, {"text": "尔滨，又有好消息！", "chat_id": CUSTOMER}),
    ("09-sysmsg-revoke-10002.json", EventKind.REVOKE, {"text": '"朝夕。" 撤回了一条消息', "new_msg_id": "1968256046"}),
    ("11-friend-request-37.json", EventKind.FRIEND_REQUEST, {"chat_id": "fmessage", "is_person": False}),
    ("12-modcontacts-friend.json", EventKind.CONTACT_CHANGED, {"chat_id": ACCOUNT}),
    ("14-offline.json", EventKind.OFFLINE, {"app_id": APP_ID, "is_person": False}),
]


@pytest.mark.parametrize(("sample", "kind", "fields"), SAMPLE_EXPECTATIONS, ids=[s[0] for s in SAMPLE_EXPECTATIONS])
def test_sample_parses_to_expected_kind_and_fields(sample: str, kind: EventKind, fields: dict[str, Any]) -> None:
    event = parse_callback(load_sample(sample), account_wxid=ACCOUNT)
    assert event.kind is kind
    assert event.app_id == APP_ID
    for name, expected in fields.items():
        assert getattr(event, name) == expected, name


def test_every_sample_file_is_covered_by_the_table() -> None:
    assert sorted(p.name for p in SAMPLES_DIR.glob("*.json")) == sorted(s[0] for s in SAMPLE_EXPECTATIONS)


@pytest.mark.parametrize("sample", [s[0] for s in SAMPLE_EXPECTATIONS])
@pytest.mark.parametrize("variant", [snake_case_keys, stringify_ids, lambda p: stringify_ids(snake_case_keys(p))])
def test_lower_case_keys_and_string_ids_parse_like_the_original(sample: str, variant: Any) -> None:
    original = load_sample(sample)
    expected = parse_callback(original, account_wxid=ACCOUNT)
    assert parse_callback(variant(copy.deepcopy(original)), account_wxid=ACCOUNT) == expected


@pytest.mark.parametrize("sample", [s[0] for s in SAMPLE_EXPECTATIONS])
def test_bytes_and_str_bodies_parse_like_the_dict(sample: str) -> None:
    raw = (SAMPLES_DIR / sample).read_bytes()
    expected = parse_callback(json.loads(raw), account_wxid=ACCOUNT)
    assert parse_callback(raw, account_wxid=ACCOUNT) == expected
    assert parse_callback(raw.decode(), account_wxid=ACCOUNT) == expected


def test_new_msg_id_above_2_pow_53_is_kept_exact() -> None:
    event = parse_callback(load_sample("01-text-private.json"), account_wxid=ACCOUNT)
    assert int(event.new_msg_id) > 2**53
    assert event.new_msg_id == "7773749793478223190"


def test_account_comes_from_caller_not_from_payload_wxid() -> None:
    # The doc samples put the sender in Wxid; the caller resolves the account from Appid.
    event = parse_callback(load_sample("01-text-private.json"), account_wxid=ACCOUNT)
    assert event.account_wxid == ACCOUNT
    assert event.sender_wxid == CUSTOMER
    assert not event.is_self_sent


def test_account_defaults_to_recipient_when_caller_does_not_know_it() -> None:
    event = parse_callback(load_sample("01-text-private.json"))
    assert event.account_wxid == ACCOUNT
    assert event.chat_id == CUSTOMER


def test_message_from_the_account_is_self_sent_and_chat_is_the_recipient() -> None:
    payload = load_sample("01-text-private.json")
    payload["Data"]["FromUserName"] = {"string": ACCOUNT}
    payload["Data"]["ToUserName"] = {"string": CUSTOMER}
    event = parse_callback(payload, account_wxid=ACCOUNT)
    assert event.is_self_sent
    assert event.chat_id == CUSTOMER


def test_missing_wxid_and_push_content_are_tolerated() -> None:
    payload = load_sample("01-text-private.json")
    del payload["Wxid"]
    del payload["Data"]["PushContent"]
    event = parse_callback(payload, account_wxid=ACCOUNT)
    assert (event.kind, event.text, event.push_content) == (EventKind.TEXT, "123", "")


def test_link_details_are_parsed() -> None:
    link = parse_callback(load_sample("07-appmsg-link-type5.json"), account_wxid=ACCOUNT).link
    assert link is not None
    assert link.title == "尔滨，又有好消息！"
    assert link.url.startswith("http://mp.weixin.qq.com/s?__biz=MzA4NDI3NjcyNA==&mid=2650011300")
    assert link.source_name == "新华社"


def test_revoke_carries_the_replaced_new_msg_id() -> None:
    revoke = parse_callback(load_sample("09-sysmsg-revoke-10002.json"), account_wxid=ACCOUNT).revoke
    assert revoke is not None
    assert (revoke.new_msg_id, revoke.msg_id) == ("5576224237104747184", "1040356115")


def test_friend_request_carries_v3_v4_content_and_scene() -> None:
    request = parse_callback(load_sample("11-friend-request-37.json"), account_wxid=ACCOUNT).friend_request
    assert request is not None
    assert request.encrypt_user_name.startswith("v3_020b3826fd03")
    assert request.ticket.startswith("v4_000b708f0b04")
    assert (request.content, request.scene, request.from_wxid) == ("我是朝夕。", 6, CUSTOMER)


def test_contact_change_carries_nickname() -> None:
    contact = parse_callback(load_sample("12-modcontacts-friend.json"), account_wxid=ACCOUNT).contact
    assert contact is not None
    assert (contact.wxid, contact.nickname) == (ACCOUNT, "chaoxi。")


def test_offline_uses_payload_wxid_when_caller_does_not_know_the_account() -> None:
    assert parse_callback(load_sample("14-offline.json")).account_wxid == CUSTOMER


# ---------------------------------------------------------------- builders for synthetic messages


def add_msg(
    content: str,
    *,
    msg_type: int = 1,
    from_user: str = CUSTOMER,
    to_user: str = ACCOUNT,
    msg_source: str = "<msgsource></msgsource>",
    push_content: str | None = None,
) -> dict[str, Any]:
    """An AddMsg payload shaped like the samples."""
    data: dict[str, Any] = {
        "MsgId": 1,
        "NewMsgId": 9223372036854775001,
        "FromUserName": {"string": from_user},
        "ToUserName": {"string": to_user},
        "MsgType": msg_type,
        "Content": {"string": content},
        "CreateTime": 1705043418,
        "MsgSource": msg_source,
    }
    if push_content is not None:
        data["PushContent"] = push_content
    return {"TypeName": "AddMsg", "Appid": APP_ID, "Wxid": ACCOUNT, "Data": data}


def appmsg(inner: str, app_type: int) -> str:
    """An appmsg XML content."""
    return f'<?xml version="1.0"?>\n<msg><appmsg appid="" sdkver="0">{inner}<type>{app_type}</type></appmsg></msg>'


def group_msg(text: str, *, mention_list: str = "", push: str | None = None) -> dict[str, Any]:
    """A group text from wxid_member1 in ROOM."""
    source = f"<msgsource><atuserlist><![CDATA[{mention_list}]]></atuserlist></msgsource>" if mention_list else ""
    return add_msg(f"wxid_member1:\n{text}", from_user=ROOM, msg_source=source, push_content=push)


def test_group_message_gives_real_sender_and_clean_text() -> None:
    event = parse_callback(group_msg("大家好"), account_wxid=ACCOUNT)
    assert (event.chat_id, event.sender_wxid, event.is_group, event.text) == (ROOM, "wxid_member1", True, "大家好")
    assert not event.mentions_account


def test_group_mention_in_atuserlist_is_detected_and_visible_at_stripped() -> None:
    event = parse_callback(
        group_msg("@店小二\u2005这件多少钱？", mention_list=f"wxid_other,{ACCOUNT}"), account_wxid=ACCOUNT
    )
    assert event.mentions_account
    assert event.text == "这件多少钱？"


def test_group_mention_of_someone_else_is_not_a_mention_of_the_account() -> None:
    event = parse_callback(group_msg("@小王\u2005你好", mention_list="wxid_other"), account_wxid=ACCOUNT)
    assert not event.mentions_account
    assert event.text == "你好"


def test_group_mention_falls_back_to_push_content() -> None:
    event = parse_callback(group_msg("@店小二\u2005在吗", push="张三在群聊中@了你"), account_wxid=ACCOUNT)
    assert event.mentions_account


def test_group_message_sent_by_the_account_is_self_sent_in_that_group() -> None:
    event = parse_callback(add_msg("通知：明天上新", from_user=ACCOUNT, to_user=ROOM), account_wxid=ACCOUNT)
    assert (event.is_self_sent, event.chat_id, event.sender_wxid, event.is_group) == (True, ROOM, ACCOUNT, True)


def test_group_image_has_prefix_stripped_before_xml() -> None:
    event = parse_callback(add_msg('wxid_member1:\n<msg><img length="1"/></msg>', msg_type=3, from_user=ROOM))
    assert (event.kind, event.sender_wxid, event.content) == (
        EventKind.IMAGE,
        "wxid_member1",
        '<msg><img length="1"/></msg>',
    )


@pytest.mark.parametrize(
    ("from_user", "msg_source", "is_person"),
    [
        ("gh_6651e07e4b2d", "", False),
        ("weixin", "", False),
        ("fmessage", "", False),
        ("newsapp", "", False),
        ("medianote", "", False),
        (CUSTOMER, "<msgsource><tips>3</tips></msgsource>", False),
        (CUSTOMER, "<msgsource><bizmsgshowtype>0</bizmsgshowtype></msgsource>", False),
        (CUSTOMER, "<msgsource><tips>1</tips></msgsource>", True),
        (CUSTOMER, "", True),
        (ROOM, "", True),
    ],
)
def test_non_person_detection(from_user: str, msg_source: str, is_person: bool) -> None:
    content = "wxid_member1:\nhi" if from_user == ROOM else "hi"
    event = parse_callback(add_msg(content, from_user=from_user, msg_source=msg_source), account_wxid=ACCOUNT)
    assert event.is_person is is_person


def test_group_message_from_official_account_member_is_not_a_person() -> None:
    event = parse_callback(add_msg("gh_abc:\n广告", from_user=ROOM), account_wxid=ACCOUNT)
    assert not event.is_person


@pytest.mark.parametrize(
    ("msg_type", "content", "kind"),
    [
        (34, '<msg><voicemsg voicelength="2000"/></msg>', EventKind.VOICE),
        (43, "<msg><videomsg/></msg>", EventKind.VIDEO),
        (47, '<msg><emoji md5="x"/></msg>', EventKind.EMOJI),
        (51, "<msg><op/></msg>", EventKind.STATUS_SYNC),
        (10000, "你已添加了张三，现在可以开始聊天了。", EventKind.SYSTEM),
    ],
)
def test_simple_message_types(msg_type: int, content: str, kind: EventKind) -> None:
    assert parse_callback(add_msg(content, msg_type=msg_type), account_wxid=ACCOUNT).kind is kind


def test_location_details() -> None:
    event = parse_callback(
        add_msg('<msg><location x="30.27" y="120.15" label="杭州市西湖区" poiname="西湖"/></msg>', msg_type=48)
    )
    assert event.kind is EventKind.LOCATION
    assert event.location is not None
    assert (event.location.latitude, event.location.poi_name) == ("30.27", "西湖")


def test_card_details() -> None:
    event = parse_callback(add_msg('<msg username="wxid_card1" nickname="李四"/>', msg_type=42))
    assert event.kind is EventKind.CARD
    assert event.card is not None
    assert (event.card.wxid, event.card.nickname) == ("wxid_card1", "李四")


def test_file_details() -> None:
    content = appmsg(
        "<title>报价单.xlsx</title><appattach><totallen>2048</totallen><fileext>xlsx</fileext></appattach>", 6
    )
    event = parse_callback(add_msg(content, msg_type=49))
    assert event.kind is EventKind.FILE
    assert event.file is not None
    assert (event.file.file_name, event.file.file_ext, event.file.size) == ("报价单.xlsx", "xlsx", 2048)


def test_quote_details() -> None:
    inner = (
        "<title>还有货吗</title><refermsg><type>1</type><svrid>8888888888888888888</svrid>"
        "<fromusr>wxid_shop</fromusr><displayname>店小二</displayname><content>新款连衣裙到了</content></refermsg>"
    )
    event = parse_callback(add_msg(appmsg(inner, 57), msg_type=49))
    assert event.kind is EventKind.QUOTE
    assert event.text == "还有货吗"
    assert event.quote is not None
    assert (event.quote.referenced_new_msg_id, event.quote.referenced_text) == ("8888888888888888888", "新款连衣裙到了")


def test_mini_program_details() -> None:
    inner = "<title>限时秒杀</title><sourcedisplayname>好店商城</sourcedisplayname><weappinfo><pagepath>pages/a</pagepath></weappinfo>"
    event = parse_callback(add_msg(appmsg(inner, 33), msg_type=49))
    assert event.kind is EventKind.MINI_PROGRAM
    assert event.mini_program is not None
    assert (event.mini_program.title, event.mini_program.page_path) == ("限时秒杀", "pages/a")


def test_transfer_amount() -> None:
    inner = "<title>微信转账</title><wcpayinfo><paysubtype>1</paysubtype><feedesc><![CDATA[￥88.00]]></feedesc><transferid>100005</transferid></wcpayinfo>"
    event = parse_callback(add_msg(appmsg(inner, 2000), msg_type=49))
    assert event.kind is EventKind.TRANSFER
    assert event.transfer is not None
    assert (event.transfer.amount, event.transfer.pay_subtype) == ("￥88.00", 1)


def test_red_packet() -> None:
    inner = "<title>微信红包</title><wcpayinfo><sendertitle>恭喜发财，大吉大利</sendertitle></wcpayinfo>"
    event = parse_callback(add_msg(appmsg(inner, 2001), msg_type=49))
    assert (event.kind, event.text) == (EventKind.RED_PACKET, "恭喜发财，大吉大利")


def test_pat_gives_patter_and_pattee() -> None:
    content = (
        '<sysmsg type="pat"><pat><fromusername>wxid_a</fromusername><chatusername>wxid_a</chatusername>'
        '<pattedusername>wxid_b</pattedusername><template><![CDATA["${wxid_a}" 拍了拍我]]></template></pat></sysmsg>'
    )
    event = parse_callback(add_msg(content, msg_type=10002))
    assert event.kind is EventKind.PAT
    assert event.pat is not None
    assert (event.pat.patter_wxid, event.pat.pattee_wxid) == ("wxid_a", "wxid_b")


def test_other_sysmsg_is_system() -> None:
    content = '<sysmsg type="sysmsgtemplate"><sysmsgtemplate><content_template><template>"张三"加入了群聊</template></content_template></sysmsgtemplate></sysmsg>'
    event = parse_callback(add_msg(content, msg_type=10002))
    assert (event.kind, event.text) == (EventKind.SYSTEM, '"张三"加入了群聊')


def test_del_contacts_is_contact_deleted() -> None:
    event = parse_callback({"TypeName": "DelContacts", "Appid": APP_ID, "Data": {"UserName": {"string": CUSTOMER}}})
    assert (event.kind, event.chat_id) == (EventKind.CONTACT_DELETED, CUSTOMER)


def test_test_packet_is_recognised() -> None:
    event = parse_callback({"testMsg": "回调地址链接成功！", "token": "abc"})
    assert (event.kind, event.text) == (EventKind.TEST_PACKET, "回调地址链接成功！")


def test_unknown_msg_type_is_unknown_with_raw_kept() -> None:
    payload = add_msg("??", msg_type=9999)
    event = parse_callback(payload)
    assert event.kind is EventKind.UNKNOWN
    assert event.raw == payload


def test_unknown_appmsg_type_is_unknown() -> None:
    assert parse_callback(add_msg(appmsg("<title>x</title>", 4242), msg_type=49)).kind is EventKind.UNKNOWN


@pytest.mark.parametrize(
    "content", ["<msg><appmsg><title>broken", "not xml at all", "", '<!DOCTYPE x [<!ENTITY a "b">]><msg/>']
)
def test_malformed_appmsg_xml_keeps_raw_content(content: str) -> None:
    event = parse_callback(add_msg(content, msg_type=49))
    assert (event.kind, event.content) == (EventKind.UNKNOWN, content)


def test_malformed_sysmsg_falls_back_to_system_text() -> None:
    event = parse_callback(add_msg("<sysmsg type=revokemsg", msg_type=10002))
    assert (event.kind, event.text) == (EventKind.SYSTEM, "<sysmsg type=revokemsg")


GARBAGE_OBJECTS: list[dict[str, Any]] = [
    {},
    {"TypeName": "AddMsg"},
    {"TypeName": "AddMsg", "Data": None},
    {"TypeName": "AddMsg", "Data": []},
    {"TypeName": "AddMsg", "Data": "text"},
    {"TypeName": "AddMsg", "Data": {"Content": ["a"], "FromUserName": 5, "MsgType": "x", "MsgSource": {"a": 1}}},
    {"TypeName": "AddMsg", "Data": {"Content": {"string": None}, "MsgType": 49, "NewMsgId": 1.5}},
    {"TypeName": "AddMsg", "Data": {"Content": {"string": 1}, "MsgType": 1, "FromUserName": {"string": []}}},
    {"TypeName": "AddMsg", "Data": {"MsgType": True, "CreateTime": "soon", "PushContent": {"x": "y"}}},
    {"TypeName": ["AddMsg"], "Appid": {"a": 1}},
    {"TypeName": 42},
    {"TypeName": "ModContacts", "Data": 3},
    {"TypeName": "DelContacts", "Data": None},
    {"TypeName": "Offline", "Wxid": None},
    {"TypeName": "SomethingNew", "Data": {"x": 1}},
    {"type_name": "add_msg", "data": {"msg_type": 1, "content": "hi"}},
    {"TypeName": "AddMsg", "Data": {"MsgType": 37, "Content": {"string": "<msg"}}},
    {"TypeName": "AddMsg", "Data": {"MsgType": 48, "Content": {"string": "<location/>"}}},
    {"TypeName": "AddMsg", "Data": {"MsgType": 49, "Content": {"string": "<appmsg><type>57</type></appmsg>"}}},
    {"testMsg": None},
]


@pytest.mark.parametrize("payload", GARBAGE_OBJECTS)
def test_garbage_json_objects_never_raise(payload: dict[str, Any]) -> None:
    event = parse_callback(payload)
    assert event.raw == payload


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", '"text"', b"\xff\xfe", "null", b"", "42"])
def test_non_object_body_raises_callback_format_error(body: bytes | str) -> None:
    with pytest.raises(CallbackFormatError):
        parse_callback(body)
