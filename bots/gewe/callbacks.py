"""Turn any GeWe callback payload into an InboundEvent without ever raising on a JSON object."""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from typing import Any

from bots.gewe._fields import as_int, as_str, lookup
from bots.gewe.errors import CallbackFormatError
from bots.gewe.models import (
    CardInfo,
    ContactInfo,
    EventKind,
    FileInfo,
    FriendRequestInfo,
    InboundEvent,
    LinkInfo,
    LocationInfo,
    MiniProgramInfo,
    PatInfo,
    QuoteInfo,
    RevokeInfo,
    TransferInfo,
)

logger = logging.getLogger(__name__)

NON_PERSON_WXIDS = frozenset({"weixin", "fmessage", "newsapp", "medianote", "filehelper", "floatbottle"})
GROUP_SUFFIX = "@chatroom"
MENTIONED_YOU_MARKER = "在群聊中@了你"
MENTION_END = "\u2005"

_GROUP_SENDER_PREFIX = re.compile(r"^([A-Za-z0-9_\-.@]+):\n")
_VISIBLE_MENTION = re.compile(r"@[^@\u2005\n]{1,64}\u2005")
_AT_USER_LIST = re.compile(r"<atuserlist>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</atuserlist>", re.DOTALL)
_TIPS_3 = re.compile(r"<tips>\s*3\s*</tips>")

_SIMPLE_KINDS = {
    3: EventKind.IMAGE,
    34: EventKind.VOICE,
    43: EventKind.VIDEO,
    62: EventKind.VIDEO,
    47: EventKind.EMOJI,
    51: EventKind.STATUS_SYNC,
}


def load_callback_body(payload: dict[str, Any] | bytes | str) -> dict[str, Any]:
    """Decode a callback body into a JSON object or raise CallbackFormatError."""
    if isinstance(payload, dict):
        return payload
    if isinstance(payload, bytes | bytearray):
        try:
            payload = bytes(payload).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CallbackFormatError("callback body is not UTF-8 text") from exc
    if not isinstance(payload, str):
        raise CallbackFormatError(f"callback body must be a JSON object, got {type(payload).__name__}")
    try:
        decoded = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, and numbers past Python's int-digits limit (which are not one)
        raise CallbackFormatError(f"callback body is not valid JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise CallbackFormatError(f"callback body must be a JSON object, got {type(decoded).__name__}")
    return decoded


def parse_callback(payload: dict[str, Any] | bytes | str, *, account_wxid: str | None = None) -> InboundEvent:
    """Parse one GeWe callback; pass the account's wxid resolved from its appId whenever known."""
    body = load_callback_body(payload)
    try:
        return _parse_object(body, account_wxid or "")
    except Exception:  # the contract is "never raise on a JSON object": keep the raw payload instead
        logger.exception("unexpected GeWe callback shape; kept as unknown")
        return InboundEvent(kind=EventKind.UNKNOWN, app_id=_safe_app_id(body), raw=body)


def _safe_app_id(body: dict[str, Any]) -> str:
    try:
        return as_str(lookup(body, "Appid", "appId"))
    except Exception:
        return ""


def _parse_object(body: dict[str, Any], account_wxid: str) -> InboundEvent:
    type_name = as_str(lookup(body, "TypeName"))
    app_id = as_str(lookup(body, "Appid", "appId"))
    payload_wxid = as_str(lookup(body, "Wxid"))
    data = lookup(body, "Data")
    common: dict[str, Any] = {"type_name": type_name, "app_id": app_id, "raw": body}
    match type_name.replace("_", "").lower():
        case "":
            kind = EventKind.TEST_PACKET if lookup(body, "testMsg") is not None else EventKind.UNKNOWN
            return InboundEvent(kind=kind, text=as_str(lookup(body, "testMsg")), **common)
        case "offline":
            return InboundEvent(
                kind=EventKind.OFFLINE, account_wxid=account_wxid or payload_wxid, is_person=False, **common
            )
        case "modcontacts" | "delcontacts" as contact_type:
            kind = EventKind.CONTACT_CHANGED if contact_type == "modcontacts" else EventKind.CONTACT_DELETED
            return _parse_contact(kind, data, account_wxid or payload_wxid, common)
        case "addmsg" if isinstance(data, dict):
            return _parse_message(data, account_wxid, common)
        case _:
            return InboundEvent(kind=EventKind.UNKNOWN, account_wxid=account_wxid, **common)


def _parse_contact(kind: EventKind, data: Any, account_wxid: str, common: dict[str, Any]) -> InboundEvent:
    wxid = as_str(lookup(data, "UserName")) if isinstance(data, dict) else as_str(data)
    contact = ContactInfo(
        wxid=wxid,
        nickname=as_str(lookup(data, "NickName")),
        remark=as_str(lookup(data, "Remark")),
        alias=as_str(lookup(data, "Alias")),
    )
    return InboundEvent(
        kind=kind,
        account_wxid=account_wxid,
        chat_id=wxid,
        is_group=wxid.endswith(GROUP_SUFFIX),
        is_person=is_person_wxid(wxid),
        contact=contact,
        **common,
    )


def is_person_wxid(wxid: str) -> bool:
    """Whether a chat partner id looks like a person or group rather than a service account."""
    return bool(wxid) and not wxid.startswith("gh_") and wxid not in NON_PERSON_WXIDS


def _guess_account_wxid(from_user: str, to_user: str) -> str:
    # Without the caller's account wxid, an incoming message names the account in ToUserName;
    # only our own sends to a group have the group there.
    return from_user if to_user.endswith(GROUP_SUFFIX) else to_user


def _parse_message(data: dict[str, Any], account_wxid: str, common: dict[str, Any]) -> InboundEvent:
    from_user = as_str(lookup(data, "FromUserName"))
    to_user = as_str(lookup(data, "ToUserName"))
    content = as_str(lookup(data, "Content"))
    msg_source = as_str(lookup(data, "MsgSource"))
    push_content = as_str(lookup(data, "PushContent"))
    msg_type = as_int(lookup(data, "MsgType"))
    account = account_wxid or _guess_account_wxid(from_user, to_user)
    is_self_sent = bool(account) and from_user == account
    chat_id = to_user if is_self_sent else from_user
    is_group = chat_id.endswith(GROUP_SUFFIX)

    sender = from_user
    body_text = content
    if is_group and not is_self_sent:
        prefix = _GROUP_SENDER_PREFIX.match(content)
        sender = prefix.group(1) if prefix else ""
        body_text = content[prefix.end() :] if prefix else content

    mentions_account = False
    if is_group and not is_self_sent:
        at_list = _AT_USER_LIST.search(msg_source)
        mentioned = {item.strip() for item in at_list.group(1).split(",")} if at_list else set()
        mentions_account = (bool(account) and account in mentioned) or MENTIONED_YOU_MARKER in push_content

    is_person = (
        is_person_wxid(chat_id)
        and not sender.startswith("gh_")
        and not _TIPS_3.search(msg_source)
        and "<bizmsgshowtype" not in msg_source
    )
    fields: dict[str, Any] = {
        "account_wxid": account,
        "chat_id": chat_id,
        "sender_wxid": sender,
        "is_group": is_group,
        "is_self_sent": is_self_sent,
        "is_person": is_person,
        "mentions_account": mentions_account,
        "content": body_text,
        "msg_type": msg_type,
        "msg_id": as_str(lookup(data, "MsgId")),
        "new_msg_id": as_str(lookup(data, "NewMsgId")),
        "create_time": as_int(lookup(data, "CreateTime")),
        "msg_source": msg_source,
        "push_content": push_content,
    }
    fields.update(_classify_message(msg_type, body_text))
    return InboundEvent(**fields, **common)


def clean_text(text: str) -> str:
    """Text with visible @mentions (`@nick` + U+2005) removed and whitespace trimmed."""
    return _VISIBLE_MENTION.sub("", text).strip()


def _classify_message(msg_type: int | None, body_text: str) -> dict[str, Any]:
    if msg_type == 1:
        return {"kind": EventKind.TEXT, "text": clean_text(body_text)}
    if msg_type in _SIMPLE_KINDS:
        return {"kind": _SIMPLE_KINDS[msg_type]}
    if msg_type == 10000:
        return {"kind": EventKind.SYSTEM, "text": body_text.strip()}
    if msg_type == 37:
        return _friend_request(body_text)
    if msg_type == 48:
        return _location(body_text)
    if msg_type == 42:
        return _card(body_text)
    if msg_type == 49:
        return _app_message(body_text)
    if msg_type == 10002:
        return _system_message(body_text)
    return {"kind": EventKind.UNKNOWN}


def parse_xml(text: str) -> ET.Element | None:
    """Parse XML defensively: None for empty, malformed or entity-declaring input."""
    text = text.strip()
    if not text.startswith("<") or "<!ENTITY" in text or "<!DOCTYPE" in text.upper():
        return None
    try:
        return ET.fromstring(text)
    except (ET.ParseError, ValueError):
        return None


def _text_of(element: ET.Element | None, path: str) -> str:
    if element is None:
        return ""
    return (element.findtext(path) or "").strip()


def _friend_request(body_text: str) -> dict[str, Any]:
    root = parse_xml(body_text)
    if root is None:
        return {"kind": EventKind.FRIEND_REQUEST}
    info = FriendRequestInfo(
        encrypt_user_name=root.get("encryptusername", ""),
        ticket=root.get("ticket", ""),
        from_wxid=root.get("fromusername", ""),
        from_nickname=root.get("fromnickname", ""),
        content=root.get("content", ""),
        scene=as_int(root.get("scene")),
    )
    return {"kind": EventKind.FRIEND_REQUEST, "friend_request": info, "text": info.content}


def _location(body_text: str) -> dict[str, Any]:
    root = parse_xml(body_text)
    location = root.find("location") if root is not None and root.tag != "location" else root
    if location is None:
        return {"kind": EventKind.LOCATION}
    info = LocationInfo(
        latitude=location.get("x", ""),
        longitude=location.get("y", ""),
        label=location.get("label", ""),
        poi_name=location.get("poiname", ""),
    )
    return {"kind": EventKind.LOCATION, "location": info, "text": info.poi_name or info.label}


def _card(body_text: str) -> dict[str, Any]:
    root = parse_xml(body_text)
    if root is None:
        return {"kind": EventKind.CARD}
    info = CardInfo(wxid=root.get("username", ""), nickname=root.get("nickname", ""))
    return {"kind": EventKind.CARD, "card": info, "text": info.nickname}


def _app_message(body_text: str) -> dict[str, Any]:
    root = parse_xml(body_text)
    appmsg = root if root is not None and root.tag == "appmsg" else None
    if root is not None and appmsg is None:
        appmsg = root.find("appmsg")
    if appmsg is None:
        return {"kind": EventKind.UNKNOWN}
    app_type = as_int(_text_of(appmsg, "type"))
    title = _text_of(appmsg, "title")
    if app_type == 5:
        link = LinkInfo(
            title=title,
            url=_text_of(appmsg, "url"),
            description=_text_of(appmsg, "des"),
            thumb_url=_text_of(appmsg, "thumburl"),
            source_name=_text_of(appmsg, "sourcedisplayname"),
        )
        return {"kind": EventKind.LINK, "link": link, "text": title}
    if app_type == 6:
        file_info = FileInfo(
            file_name=title,
            file_ext=_text_of(appmsg, "appattach/fileext"),
            size=as_int(_text_of(appmsg, "appattach/totallen")),
        )
        return {"kind": EventKind.FILE, "file": file_info, "text": title}
    if app_type in (33, 36):
        mini = MiniProgramInfo(
            title=title,
            app_name=_text_of(appmsg, "sourcedisplayname"),
            page_path=_text_of(appmsg, "weappinfo/pagepath"),
        )
        return {"kind": EventKind.MINI_PROGRAM, "mini_program": mini, "text": title}
    if app_type == 57:
        refer = appmsg.find("refermsg")
        quote = QuoteInfo(
            referenced_new_msg_id=_text_of(refer, "svrid"),
            referenced_text=_text_of(refer, "content"),
            referenced_sender_wxid=_text_of(refer, "fromusr") or _text_of(refer, "chatusr"),
            referenced_sender_name=_text_of(refer, "displayname"),
        )
        return {"kind": EventKind.QUOTE, "quote": quote, "text": clean_text(title)}
    if app_type == 2000:
        transfer = TransferInfo(
            amount=_text_of(appmsg, "wcpayinfo/feedesc"),
            pay_subtype=as_int(_text_of(appmsg, "wcpayinfo/paysubtype")),
            transfer_id=_text_of(appmsg, "wcpayinfo/transferid"),
            memo=_text_of(appmsg, "wcpayinfo/pay_memo"),
        )
        return {"kind": EventKind.TRANSFER, "transfer": transfer, "text": transfer.memo}
    if app_type == 2001:
        greeting = _text_of(appmsg, "wcpayinfo/sendertitle") or title
        return {"kind": EventKind.RED_PACKET, "text": greeting}
    return {"kind": EventKind.UNKNOWN, "text": title}


def _system_message(body_text: str) -> dict[str, Any]:
    root = parse_xml(body_text)
    if root is None:
        return {"kind": EventKind.SYSTEM, "text": body_text.strip()}
    sys_type = root.get("type", "")
    if sys_type == "revokemsg":
        revoke = RevokeInfo(
            new_msg_id=_text_of(root, "revokemsg/newmsgid"),
            msg_id=_text_of(root, "revokemsg/msgid"),
            replace_text=_text_of(root, "revokemsg/replacemsg"),
        )
        return {"kind": EventKind.REVOKE, "revoke": revoke, "text": revoke.replace_text}
    if sys_type == "pat":
        pat = PatInfo(
            patter_wxid=_text_of(root, "pat/fromusername"),
            pattee_wxid=_text_of(root, "pat/pattedusername"),
            template=_text_of(root, "pat/template"),
        )
        return {"kind": EventKind.PAT, "pat": pat, "text": pat.template}
    plain = _text_of(root, "sysmsgtemplate/content_template/template") or "".join(root.itertext()).strip()
    return {"kind": EventKind.SYSTEM, "text": plain}
