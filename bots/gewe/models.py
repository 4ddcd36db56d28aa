"""Typed results of GeWe API calls and the plain events parsed from GeWe callbacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from bots.gewe._fields import as_int, as_list, as_str, as_str_list, lookup

# ---------------------------------------------------------------- API results


@dataclass(frozen=True, slots=True)
class LoginQrCode:
    """A login QR code; show `qr_data` as a QR and poll checkLogin with `uuid`."""

    app_id: str
    uuid: str
    qr_data: str
    qr_img_base64: str

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from the `data` of /login/getLoginQrCode."""
        return cls(
            app_id=as_str(lookup(data, "appId")),
            uuid=as_str(lookup(data, "uuid")),
            qr_data=as_str(lookup(data, "qrData")),
            qr_img_base64=as_str(lookup(data, "qrImgBase64")),
        )


@dataclass(frozen=True, slots=True)
class LoginInfo:
    """The account that finished logging in."""

    wxid: str
    nickname: str
    uin: str = ""
    mobile: str = ""
    alias: str = ""

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from `loginInfo` of /login/checkLogin."""
        return cls(
            wxid=as_str(lookup(data, "wxid")),
            nickname=as_str(lookup(data, "nickName")),
            uin=as_str(lookup(data, "uin")),
            mobile=as_str(lookup(data, "mobile")),
            alias=as_str(lookup(data, "alias")),
        )


LOGIN_STATUS_LOGGED_IN = 2


@dataclass(frozen=True, slots=True)
class LoginStatus:
    """Progress of a QR login: status 0 waiting for scan, 1 scanned, 2 logged in."""

    uuid: str
    status: int
    expired_time: int | None
    nickname: str = ""
    head_img_url: str = ""
    login_info: LoginInfo | None = None

    @property
    def logged_in(self) -> bool:
        """Whether the login finished."""
        return self.status == LOGIN_STATUS_LOGGED_IN

    @property
    def needs_new_qr(self) -> bool:
        """Whether the QR is about to expire (GeWe advises refetching at <= 5 s)."""
        return not self.logged_in and self.expired_time is not None and self.expired_time <= 5

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from the `data` of /login/checkLogin."""
        info = lookup(data, "loginInfo")
        return cls(
            uuid=as_str(lookup(data, "uuid")),
            status=as_int(lookup(data, "status")) or 0,
            expired_time=as_int(lookup(data, "expiredTime")),
            nickname=as_str(lookup(data, "nickName")),
            head_img_url=as_str(lookup(data, "headImgUrl")),
            login_info=LoginInfo.from_data(info) if isinstance(info, dict) and info else None,
        )


@dataclass(frozen=True, slots=True)
class SendResult:
    """What GeWe returns for a sent message; keep it to revoke the message or recognise its echo."""

    to_wxid: str
    create_time: int | None
    msg_id: str
    new_msg_id: str
    type: int | None

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from the `data` of a /message/post* call."""
        return cls(
            to_wxid=as_str(lookup(data, "toWxid")),
            create_time=as_int(lookup(data, "createTime")),
            msg_id=as_str(lookup(data, "msgId")),
            new_msg_id=as_str(lookup(data, "newMsgId")),
            type=as_int(lookup(data, "type")),
        )


@dataclass(frozen=True, slots=True)
class ContactsList:
    """Wxids of the account's friends, group chats and official accounts."""

    friends: list[str]
    chatrooms: list[str]
    ghs: list[str]

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from the `data` of /contacts/fetchContactsList."""
        return cls(
            friends=as_str_list(lookup(data, "friends")),
            chatrooms=as_str_list(lookup(data, "chatrooms")),
            ghs=as_str_list(lookup(data, "ghs")),
        )


@dataclass(frozen=True, slots=True)
class BriefInfo:
    """Short profile of a contact."""

    user_name: str
    nick_name: str
    remark: str = ""
    alias: str = ""
    small_head_img_url: str = ""
    label_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from one item of /contacts/getBriefInfo."""
        return cls(
            user_name=as_str(lookup(data, "userName")),
            nick_name=as_str(lookup(data, "nickName")),
            remark=as_str(lookup(data, "remark")),
            alias=as_str(lookup(data, "alias")),
            small_head_img_url=as_str(lookup(data, "smallHeadImgUrl")),
            label_ids=as_str_list(lookup(data, "labelList")),
        )


@dataclass(frozen=True, slots=True)
class ChatroomMember:
    """One member of a group chat."""

    wxid: str
    nick_name: str
    display_name: str = ""

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from one item of `memberList`."""
        return cls(
            wxid=as_str(lookup(data, "wxid")),
            nick_name=as_str(lookup(data, "nickName")),
            display_name=as_str(lookup(data, "displayName")),
        )


@dataclass(frozen=True, slots=True)
class ChatroomMembers:
    """Members (and owner) of a group chat."""

    members: list[ChatroomMember]
    owner: str = ""

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from the `data` of /group/getChatroomMemberList."""
        return cls(
            members=[
                ChatroomMember.from_data(item) for item in as_list(lookup(data, "memberList")) if isinstance(item, dict)
            ],
            owner=as_str(lookup(data, "chatroomOwner")),
        )


@dataclass(frozen=True, slots=True)
class Label:
    """A contact label (tag)."""

    label_id: int
    label_name: str

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """Build from one item of /label/list or the `data` of /label/add."""
        return cls(label_id=as_int(lookup(data, "labelId")) or 0, label_name=as_str(lookup(data, "labelName")))


# ---------------------------------------------------------------- callback events


class EventKind(StrEnum):
    """What a callback is about."""

    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    EMOJI = "emoji"
    LOCATION = "location"
    CARD = "card"
    LINK = "link"
    FILE = "file"
    QUOTE = "quote"
    MINI_PROGRAM = "mini_program"
    TRANSFER = "transfer"
    RED_PACKET = "red_packet"
    REVOKE = "revoke"
    PAT = "pat"
    SYSTEM = "system"
    FRIEND_REQUEST = "friend_request"
    CONTACT_CHANGED = "contact_changed"
    CONTACT_DELETED = "contact_deleted"
    OFFLINE = "offline"
    TEST_PACKET = "test_packet"
    STATUS_SYNC = "status_sync"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A shared link (appmsg type 5)."""

    title: str
    url: str
    description: str = ""
    thumb_url: str = ""
    source_name: str = ""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A shared file (appmsg type 6)."""

    file_name: str
    file_ext: str = ""
    size: int | None = None


@dataclass(frozen=True, slots=True)
class QuoteInfo:
    """A reply quoting an earlier message (appmsg type 57)."""

    referenced_new_msg_id: str
    referenced_text: str
    referenced_sender_wxid: str = ""
    referenced_sender_name: str = ""


@dataclass(frozen=True, slots=True)
class MiniProgramInfo:
    """A shared mini program (appmsg type 33/36)."""

    title: str
    app_name: str = ""
    page_path: str = ""


@dataclass(frozen=True, slots=True)
class TransferInfo:
    """A money transfer (appmsg type 2000); `amount` as WeChat shows it, e.g. "￥0.10"."""

    amount: str
    pay_subtype: int | None = None
    transfer_id: str = ""
    memo: str = ""


@dataclass(frozen=True, slots=True)
class RevokeInfo:
    """A message was recalled; `new_msg_id` is the id of the recalled message."""

    new_msg_id: str
    msg_id: str = ""
    replace_text: str = ""


@dataclass(frozen=True, slots=True)
class PatInfo:
    """Someone "patted" someone (拍一拍)."""

    patter_wxid: str
    pattee_wxid: str
    template: str = ""


@dataclass(frozen=True, slots=True)
class FriendRequestInfo:
    """A friend request; accept it with the v3 `encrypt_user_name` and v4 `ticket`."""

    encrypt_user_name: str
    ticket: str
    from_wxid: str = ""
    from_nickname: str = ""
    content: str = ""
    scene: int | None = None


@dataclass(frozen=True, slots=True)
class ContactInfo:
    """A contact that was added/changed (ModContacts) or deleted (DelContacts)."""

    wxid: str
    nickname: str = ""
    remark: str = ""
    alias: str = ""


@dataclass(frozen=True, slots=True)
class LocationInfo:
    """A shared location."""

    latitude: str
    longitude: str
    label: str = ""
    poi_name: str = ""


@dataclass(frozen=True, slots=True)
class CardInfo:
    """A shared contact card."""

    wxid: str
    nickname: str = ""


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One GeWe callback as plain data; ids are strings because they exceed 2^53."""

    kind: EventKind
    type_name: str = ""
    app_id: str = ""
    account_wxid: str = ""
    chat_id: str = ""
    sender_wxid: str = ""
    is_group: bool = False
    is_self_sent: bool = False
    is_person: bool = True
    mentions_account: bool = False
    text: str = ""
    content: str = ""
    msg_type: int | None = None
    msg_id: str = ""
    new_msg_id: str = ""
    create_time: int | None = None
    msg_source: str = ""
    push_content: str = ""
    link: LinkInfo | None = None
    file: FileInfo | None = None
    quote: QuoteInfo | None = None
    mini_program: MiniProgramInfo | None = None
    transfer: TransferInfo | None = None
    revoke: RevokeInfo | None = None
    pat: PatInfo | None = None
    friend_request: FriendRequestInfo | None = None
    contact: ContactInfo | None = None
    location: LocationInfo | None = None
    card: CardInfo | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_message(self) -> bool:
        """Whether this is a chat message a conversation should see (not contact/status/system noise)."""
        return self.kind not in _NON_MESSAGE_KINDS


_NON_MESSAGE_KINDS = frozenset(
    {
        EventKind.CONTACT_CHANGED,
        EventKind.CONTACT_DELETED,
        EventKind.OFFLINE,
        EventKind.TEST_PACKET,
        EventKind.STATUS_SYNC,
        EventKind.UNKNOWN,
    }
)
