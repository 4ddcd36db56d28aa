"""In-memory world of the GeWe simulator: accounts, contacts, logins, sent messages, failures, callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import string
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from bots.simulator.customers import (
    Persona,
    opening_line,
    random_group_name,
    random_nickname,
    random_persona,
    reply_line,
)

logger = logging.getLogger(__name__)

OFFLINE_MSG = "发送消息失败-微信已离线(-1)"
TOO_OFTEN_MSG = "操作过于频繁，请稍后再试"
SERVER_ERROR_MSG = "服务器内部错误"
TOKEN_MISSING_MSG = "header:X-GEWE-TOKEN 不可为空"
TOKEN_INVALID_MSG = "header:X-GEWE-TOKEN 不可用或已过期"
TEST_PACKET_MSG = "回调地址链接成功！"
MENTION_END = "\u2005"
DEFAULT_LABELS = {1: "VIP", 2: "新客", 3: "老客"}


class SimError(Exception):
    """A GeWe-style failure: answered as `{ret: 500, msg}`."""

    def __init__(self, msg: str, *, ret: int = 500) -> None:
        super().__init__(msg)
        self.msg = msg
        self.ret = ret


@dataclass
class SimulatorConfig:
    """Knobs of the simulator; every probability is in [0, 1], every delay in seconds."""

    base_path: str = "/v2/api"
    callback_url: str | None = None
    token: str | None = None
    seed: int | None = None
    auto_confirm_login_after: float | None = 3.0
    qr_lifetime: float = 240.0
    duplicate_probability: float = 0.0
    late_redelivery_probability: float = 0.0
    late_redelivery_delay: float = 30.0
    scripted_customers: bool = False
    customer_reply_delay: tuple[float, float] = (2.0, 6.0)
    new_conversation_interval: tuple[float, float] = (20.0, 60.0)
    group_mention_probability: float = 0.3
    echo_sends: bool = False
    friends_per_account: int = 12
    groups_per_account: int = 2


@dataclass
class SimContact:
    """A friend of a simulated account."""

    wxid: str
    nickname: str
    remark: str = ""
    label_ids: set[int] = field(default_factory=set)
    persona: Persona | None = None

    def to_json(self) -> dict[str, Any]:
        """Control-API view."""
        return {
            "wxid": self.wxid,
            "nickname": self.nickname,
            "remark": self.remark,
            "labelIds": sorted(self.label_ids),
            "scripted": self.persona is not None,
        }


@dataclass
class SimChatroom:
    """A group chat the account is in."""

    chatroom_id: str
    name: str
    owner: str
    member_wxids: list[str]


@dataclass
class SimAccount:
    """One logged-in (or formerly logged-in) WeChat device."""

    app_id: str
    wxid: str
    nickname: str
    online: bool = True
    contacts: dict[str, SimContact] = field(default_factory=dict)
    chatrooms: dict[str, SimChatroom] = field(default_factory=dict)
    labels: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))

    def summary(self) -> dict[str, Any]:
        """Control-API view."""
        return {
            "appId": self.app_id,
            "wxid": self.wxid,
            "nickname": self.nickname,
            "online": self.online,
            "contacts": [contact.to_json() for contact in self.contacts.values()],
            "chatrooms": [
                {"chatroomId": room.chatroom_id, "name": room.name, "members": room.member_wxids}
                for room in self.chatrooms.values()
            ],
            "labels": [{"labelId": k, "labelName": v} for k, v in sorted(self.labels.items())],
        }


@dataclass
class PendingLogin:
    """A QR code waiting to be scanned."""

    uuid: str
    app_id: str
    created_at: float
    confirmed: bool = False
    done: bool = False


@dataclass
class SentMessage:
    """A message an account sent through the API."""

    app_id: str
    to_wxid: str
    kind: str
    content: str
    msg_id: str
    new_msg_id: str
    create_time: int
    sent_at: float
    ats: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        """Control-API view (ids as strings)."""
        return {
            "appId": self.app_id,
            "toWxid": self.to_wxid,
            "kind": self.kind,
            "content": self.content,
            "msgId": self.msg_id,
            "newMsgId": self.new_msg_id,
            "createTime": self.create_time,
            "sentAt": self.sent_at,
            "ats": self.ats,
            "extra": self.extra,
            "revoked": self.revoked,
        }


@dataclass
class FailureModes:
    """Injected failures; counters are consumed one per affected call."""

    too_often_sends: int = 0
    http_500_calls: int = 0
    slow_calls: int = 0
    slow_seconds: float = 0.0
    reconnect_fails: bool = False


@dataclass
class Delivery:
    """One callback POST attempt."""

    url: str
    payload: dict[str, Any]
    attempt: str
    at: float
    status: int | None = None
    error: str = ""


@dataclass
class ApiCall:
    """One call that reached the simulated GeWe API."""

    path: str
    body: dict[str, Any]
    at: float


class SimulatorState:
    """Everything the simulator knows; safe to inspect directly from tests in the same event loop."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.rng = random.Random(self.config.seed)
        self.accounts: dict[str, SimAccount] = {}
        self.logins: dict[str, PendingLogin] = {}
        self.sent: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        self.deliveries: list[Delivery] = []
        self.failures = FailureModes()
        self.tokens: set[str] = {self.config.token} if self.config.token else set()
        self.callback_url = self.config.callback_url
        # Per-account callback URLs (the platform's URL carries each account's secret); else callback_url.
        self.app_callback_urls: dict[str, str] = {}
        self.scripted_customers = self.config.scripted_customers
        self._msg_seq = 700_000_000
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._customer_loop: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the callback HTTP client and start the scripted-customer loop."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        if self._customer_loop is None:
            self._customer_loop = asyncio.create_task(self._run_customer_loop())

    async def stop(self) -> None:
        """Cancel background work and close the callback client."""
        tasks = [*self._tasks, *([self._customer_loop] if self._customer_loop else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._customer_loop = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def busy(self) -> bool:
        """Whether callbacks or scripted replies are still pending in the background."""
        return bool(self._tasks)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ ids and generation

    def random_id(self, length: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
        """A random id of `length` characters from `alphabet`."""
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def new_app_id(self) -> str:
        """A GeWe-looking appId."""
        return "wx_" + self.random_id(21, string.ascii_letters + string.digits + "_")

    def new_wxid(self) -> str:
        """A WeChat-looking wxid."""
        return "wxid_" + self.random_id(14)

    def new_ids(self) -> tuple[str, str]:
        """(msgId, newMsgId); newMsgId exceeds 2^53 like the real ones."""
        self._msg_seq += 1
        return str(self._msg_seq), str(self.rng.randrange(2**62, 2**63))

    def create_account(
        self,
        *,
        app_id: str | None = None,
        wxid: str | None = None,
        nickname: str | None = None,
        online: bool = True,
    ) -> SimAccount:
        """Create (or return) a logged-in account with generated friends, groups and labels."""
        if app_id and app_id in self.accounts:
            return self.accounts[app_id]
        account = SimAccount(
            app_id=app_id or self.new_app_id(),
            wxid=wxid or self.new_wxid(),
            nickname=nickname or f"{random_nickname(self.rng)}的小店",
            online=online,
        )
        for _ in range(self.config.friends_per_account):
            contact = SimContact(self.new_wxid(), random_nickname(self.rng), persona=random_persona(self.rng))
            if self.rng.random() < 0.4:
                contact.label_ids.add(self.rng.choice(list(account.labels)))
            account.contacts[contact.wxid] = contact
        friend_ids = list(account.contacts)
        for _ in range(self.config.groups_per_account):
            room_id = f"{self.rng.randrange(10**10, 10**11)}@chatroom"
            members = self.rng.sample(friend_ids, min(len(friend_ids), 5))
            account.chatrooms[room_id] = SimChatroom(
                room_id, random_group_name(self.rng), account.wxid, [account.wxid, *members]
            )
        self.accounts[account.app_id] = account
        return account

    def account(self, app_id: str) -> SimAccount:
        """The account for an appId, or a GeWe-style error."""
        account = self.accounts.get(app_id)
        if account is None:
            raise SimError(f"appId {app_id or '(空)'} 不存在，请先登录")
        return account

    # ------------------------------------------------------------ login

    def start_login(self, app_id: str) -> dict[str, Any]:
        """Begin a QR login (a new appId when none is given)."""
        app_id = app_id or self.new_app_id()
        uuid = self.random_id(24, string.ascii_letters + string.digits)
        self.logins[uuid] = PendingLogin(uuid=uuid, app_id=app_id, created_at=time.time())
        return {
            "appId": app_id,
            "uuid": uuid,
            "qrData": f"http://weixin.qq.com/x/{uuid}",
            "qrImgBase64": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
            "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
        }

    def confirm_login(self, *, uuid: str | None = None, app_id: str | None = None) -> PendingLogin:
        """Mark a pending QR login as scanned and confirmed on the phone."""
        for login in reversed(self.logins.values()):
            if (uuid and login.uuid == uuid) or (app_id and login.app_id == app_id and not login.done):
                login.confirmed = True
                return login
        raise KeyError(uuid or app_id or "")

    def check_login(self, app_id: str, uuid: str) -> dict[str, Any]:
        """Progress of a QR login; logs the account in once confirmed (or auto-confirmed)."""
        login = self.logins.get(uuid)
        if login is None or login.app_id != app_id:
            raise SimError("登录二维码不存在或已过期，请重新获取")
        elapsed = time.time() - login.created_at
        remaining = max(0, int(self.config.qr_lifetime - elapsed))
        if not login.confirmed and remaining <= 0:
            raise SimError("二维码已过期，请重新获取")
        auto_after = self.config.auto_confirm_login_after
        if not login.confirmed and auto_after is not None and elapsed >= auto_after:
            login.confirmed = True
        if not login.confirmed:
            scanned = auto_after is not None and elapsed >= auto_after / 2
            return {"uuid": uuid, "status": 1 if scanned else 0, "expiredTime": remaining, "loginInfo": None}
        account = self.accounts.get(app_id) or self.create_account(app_id=app_id)
        account.online = True
        login.done = True
        return {
            "uuid": uuid,
            "status": 2,
            "expiredTime": remaining,
            "nickName": account.nickname,
            "headImgUrl": "",
            "loginInfo": {
                "uin": self.rng.randrange(10**9, 10**10),
                "wxid": account.wxid,
                "nickName": account.nickname,
                "mobile": "",
                "alias": "",
            },
        }

    async def set_online(self, app_id: str, online: bool) -> None:
        """Take an account offline (posting the Offline callback) or back online."""
        account = self.account(app_id)
        was_online, account.online = account.online, online
        if was_online and not online:
            await self.deliver({"TypeName": "Offline", "Appid": app_id, "Wxid": account.wxid})

    # ------------------------------------------------------------ sending

    def record_send(
        self,
        app_id: str,
        to_wxid: str,
        *,
        kind: str,
        msg_type: int,
        content: str,
        ats: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Apply send failures, record the message and return GeWe's send reply."""
        account = self.account(app_id)
        if not account.online:
            raise SimError(OFFLINE_MSG)
        if self.failures.too_often_sends > 0:
            self.failures.too_often_sends -= 1
            raise SimError(TOO_OFTEN_MSG)
        if not to_wxid:
            raise SimError("toWxid不能为空")
        msg_id, new_msg_id = self.new_ids()
        now = time.time()
        message = SentMessage(
            app_id=app_id,
            to_wxid=to_wxid,
            kind=kind,
            content=content,
            msg_id=msg_id,
            new_msg_id=new_msg_id,
            create_time=int(now),
            sent_at=now,
            ats=ats or [],
            extra=extra or {},
        )
        self.sent.append(message)
        if self.config.echo_sends:
            # GeWe echoes a send with the ids it returned, which is how the platform tells its own sends apart.
            echo = self._add_msg(account, account.wxid, to_wxid, content, msg_type, ids=(msg_id, new_msg_id))
            self._spawn(self.deliver(echo))
        self._maybe_schedule_reply(account, message)
        return {
            "toWxid": to_wxid,
            "createTime": message.create_time,
            "msgId": int(msg_id),
            "newMsgId": int(new_msg_id),
            "type": msg_type,
        }

    def revoke(self, app_id: str, new_msg_id: str) -> None:
        """Mark a sent message as recalled."""
        for message in self.sent:
            if message.app_id == app_id and message.new_msg_id == new_msg_id:
                message.revoked = True
                return
        raise SimError("撤回失败，消息不存在或已超过撤回时间")

    def sent_messages(self, *, app_id: str | None = None, to_wxid: str | None = None) -> list[SentMessage]:
        """Recorded sends, optionally filtered."""
        return [
            message
            for message in self.sent
            if (app_id is None or message.app_id == app_id) and (to_wxid is None or message.to_wxid == to_wxid)
        ]

    # ------------------------------------------------------------ callbacks

    def _add_msg(
        self,
        account: SimAccount,
        from_wxid: str,
        to_wxid: str,
        content: str,
        msg_type: int,
        *,
        msg_source: str | None = None,
        push_content: str | None = None,
        ids: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        msg_id, new_msg_id = ids or self.new_ids()
        data: dict[str, Any] = {
            "MsgId": int(msg_id),
            "FromUserName": {"string": from_wxid},
            "ToUserName": {"string": to_wxid},
            "MsgType": msg_type,
            "Content": {"string": content},
            "Status": 3,
            "ImgStatus": 1,
            "ImgBuf": {"iLen": 0},
            "CreateTime": int(time.time()),
            "MsgSource": msg_source
            or (
                "<msgsource>\n\t<alnode>\n\t\t<fr>1</fr>\n\t</alnode>\n\t<signature>v1_"
                + self.random_id(8, string.ascii_letters + string.digits)
                + "</signature>\n\t<tmp_node>\n\t\t<publisher-id></publisher-id>\n\t</tmp_node>\n</msgsource>\n"
            ),
            "NewMsgId": int(new_msg_id),
            "MsgSeq": int(msg_id) - 400_000_000,
        }
        if push_content is not None:
            data["PushContent"] = push_content
        return {"TypeName": "AddMsg", "Appid": account.app_id, "Wxid": account.wxid, "Data": data}

    def customer_message(
        self,
        app_id: str,
        *,
        from_wxid: str | None = None,
        content: str,
        chatroom_id: str | None = None,
        mention_account: bool = False,
        msg_type: int = 1,
    ) -> dict[str, Any]:
        """Build the AddMsg callback of a customer writing to the account (privately or in a group)."""
        account = self.account(app_id)
        if chatroom_id is not None:
            room = account.chatrooms.get(chatroom_id)
            if room is None:
                raise KeyError(chatroom_id)
            members = [wxid for wxid in room.member_wxids if wxid != account.wxid]
            sender = from_wxid or self.rng.choice(members)
        else:
            sender = from_wxid or self.rng.choice(list(account.contacts))
        contact = account.contacts.get(sender)
        nickname = contact.nickname if contact else sender
        if chatroom_id is None:
            return self._add_msg(
                account, sender, account.wxid, content, msg_type, push_content=f"{nickname} : {content}"
            )
        at_list = ""
        visible = content
        if mention_account:
            visible = f"@{account.nickname}{MENTION_END}{content}"
            at_list = f"\n\t<atuserlist><![CDATA[{account.wxid}]]></atuserlist>"
        msg_source = (
            f"<msgsource>{at_list}\n\t<silence>0</silence>\n\t<membercount>{len(members) + 1}</membercount>"
            f"\n\t<signature>v1_{self.random_id(8)}</signature>\n</msgsource>\n"
        )
        push = f"{nickname}在群聊中@了你" if mention_account else f"{nickname} : {visible}"
        return self._add_msg(
            account,
            chatroom_id,
            account.wxid,
            f"{sender}:\n{visible}",
            msg_type,
            msg_source=msg_source,
            push_content=push,
        )

    def add_friend(self, app_id: str, *, wxid: str | None = None, nickname: str | None = None) -> dict[str, Any]:
        """Add a scripted friend and return the ModContacts callback announcing it."""
        account = self.account(app_id)
        contact = SimContact(
            wxid=wxid or self.new_wxid(),
            nickname=nickname or random_nickname(self.rng),
            label_ids={2},
            persona=random_persona(self.rng),
        )
        account.contacts[contact.wxid] = contact
        return {
            "TypeName": "ModContacts",
            "Appid": app_id,
            "Wxid": account.wxid,
            "Data": {
                "UserName": {"string": contact.wxid},
                "NickName": {"string": contact.nickname},
                "Remark": {},
                "Sex": self.rng.choice((1, 2)),
                "ContactType": 0,
                "Province": "Zhejiang",
                "City": "Hangzhou",
                "Country": "CN",
                "SmallHeadImgUrl": "",
                "BigHeadImgUrl": "",
            },
        }

    async def deliver(self, payload: dict[str, Any]) -> None:
        """POST a callback, then maybe a duplicate now and a late re-delivery, as GeWe does."""
        if not self.callback_url_for(payload):
            return
        await self._post_callback(payload, "first")
        if self.rng.random() < self.config.duplicate_probability:
            await self._post_callback(payload, "duplicate")
        if self.rng.random() < self.config.late_redelivery_probability:
            self._spawn(self._late_redelivery(payload))

    async def _late_redelivery(self, payload: dict[str, Any]) -> None:
        await asyncio.sleep(self.config.late_redelivery_delay)
        await self._post_callback(payload, "late")

    def callback_url_for(self, payload: dict[str, Any]) -> str | None:
        """Where a callback goes: its account's own URL when one is set, else the shared one."""
        return self.app_callback_urls.get(str(payload.get("Appid", ""))) or self.callback_url

    async def _post_callback(self, payload: dict[str, Any], attempt: str) -> None:
        url = self.callback_url_for(payload)
        if not url:
            return
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        delivery = Delivery(url=url, payload=payload, attempt=attempt, at=time.time())
        self.deliveries.append(delivery)
        try:
            response = await self._http.post(url, json=payload)
            delivery.status = response.status_code
        except httpx.HTTPError as exc:
            delivery.error = repr(exc)
            logger.warning("callback to %s failed: %r", url, exc)

    def deliver_soon(self, payload: dict[str, Any]) -> None:
        """Deliver a callback in the background."""
        self._spawn(self.deliver(payload))

    # ------------------------------------------------------------ scripted customers

    def _maybe_schedule_reply(self, account: SimAccount, message: SentMessage) -> None:
        contact = account.contacts.get(message.to_wxid)
        if not self.scripted_customers or contact is None or contact.persona is None or message.kind != "text":
            return
        line = reply_line(contact.persona, message.content, self.rng)
        if line is None:
            return
        delay = self.rng.uniform(*self.config.customer_reply_delay)
        self._spawn(self._reply_later(account.app_id, contact.wxid, line, delay))

    async def _reply_later(self, app_id: str, wxid: str, line: str, delay: float) -> None:
        await asyncio.sleep(delay)
        account = self.accounts.get(app_id)
        if account is None or not account.online or not self.scripted_customers:
            return
        await self.deliver(self.customer_message(app_id, from_wxid=wxid, content=line))

    async def _run_customer_loop(self) -> None:
        while True:
            await asyncio.sleep(self.rng.uniform(*self.config.new_conversation_interval))
            if not self.scripted_customers:
                continue
            try:
                await self.start_conversation()
            except Exception:  # a broken tick must not stop the demo
                logger.exception("scripted customer tick failed")

    async def start_conversation(self) -> dict[str, Any] | None:
        """Have a random scripted customer of a random online account start talking."""
        online = [account for account in self.accounts.values() if account.online and account.contacts]
        if not online:
            return None
        account = self.rng.choice(online)
        if account.chatrooms and self.rng.random() < self.config.group_mention_probability:
            room = self.rng.choice(list(account.chatrooms.values()))
            members = [wxid for wxid in room.member_wxids if wxid in account.contacts]
            if members:
                sender = self.rng.choice(members)
                persona = account.contacts[sender].persona or random_persona(self.rng)
                payload = self.customer_message(
                    account.app_id,
                    from_wxid=sender,
                    content=opening_line(persona, self.rng),
                    chatroom_id=room.chatroom_id,
                    mention_account=True,
                )
                await self.deliver(payload)
                return payload
        contact = self.rng.choice(list(account.contacts.values()))
        persona = contact.persona or random_persona(self.rng)
        payload = self.customer_message(account.app_id, from_wxid=contact.wxid, content=opening_line(persona, self.rng))
        await self.deliver(payload)
        return payload

    # ------------------------------------------------------------ views

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON for the control API."""
        return {
            "callbackUrl": self.callback_url,
            "scriptedCustomers": self.scripted_customers,
            "failures": asdict(self.failures),
            "accounts": [account.summary() for account in self.accounts.values()],
            "logins": [asdict(login) for login in self.logins.values()],
            "sentCount": len(self.sent),
            "deliveryCount": len(self.deliveries),
        }
