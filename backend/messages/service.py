"""Storing conversations and messages, and sending text through the pacer and GeWe."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, String, Uuid, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.gewe import GeweGateway, gewe_message
from backend.accounts.models import Account
from backend.core.db import utcnow
from backend.core.metrics import SENDS
from backend.messages.models import Conversation, Message
from backend.messages.schemas import MessageOut
from backend.realtime.service import account_room, conversation_room, org_room, publish
from bots.gewe import GeweError, GeweTooOftenError, GeweTransportError
from bots.pacer import InProcessPacer, PacingPolicy, RedisPacer

logger = logging.getLogger(__name__)

SentBy = str  # 'customer' | 'ai' | 'staff' | 'phone' | 'sop'
ChannelPacer = InProcessPacer | RedisPacer


def conversation_rooms(organization_id: uuid.UUID, account_id: uuid.UUID, conversation_id: uuid.UUID) -> list[str]:
    """Socket.IO rooms a conversation's events go to: its organisation, account and conversation."""
    return [org_room(organization_id), account_room(account_id), conversation_room(conversation_id)]


def message_rooms(message: Message) -> list[str]:
    """Socket.IO rooms a message event goes to."""
    return conversation_rooms(message.organization_id, message.account_id, message.conversation_id)


def message_data(message: Message) -> dict[str, Any]:
    """The JSON-ready body of a message event."""
    return MessageOut.model_validate(message).model_dump(mode="json")


async def upsert_conversation(
    session: AsyncSession, *, account: Account, chat_wxid: str, is_group: bool
) -> tuple[uuid.UUID, bool]:
    """The id of the account's conversation with a chat (created when missing) and whether it was created."""
    statement: Any = (
        insert(Conversation)
        .values(
            id=uuid.uuid4(),
            organization_id=account.organization_id,
            account_id=account.id,
            chat_wxid=chat_wxid,
            is_group=is_group,
        )
        .on_conflict_do_update(
            index_elements=[Conversation.account_id, Conversation.chat_wxid],
            set_={"is_group": is_group},
        )
        # xmax is 0 only for a row this statement inserted (not for one it updated on conflict).
        .returning(Conversation.id, literal_column("xmax = 0"))
    )
    conversation_id, created = (await session.execute(statement)).one()
    return conversation_id, bool(created)


async def touch_conversation(
    session: AsyncSession, *, conversation_id: uuid.UUID, at: datetime, unread_delta: int, preview: str = ""
) -> None:
    """Move a conversation's last message time and preview forward and adjust its unread count."""
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(
            last_message_at=at,
            last_message_preview=preview[:120],
            unread_count=Conversation.unread_count + unread_delta,
        )
    )


# Set-based counterparts of upsert_conversation, touch_conversation and insert_message_once for a batch of
# messages: each takes its rows as column arrays through unnest, so one statement text (prepared once per
# connection) serves every batch size, where a multi-row VALUES would be a new statement for each size.
UPSERT_CONVERSATIONS = text(
    "insert into conversations (id, organization_id, account_id, chat_wxid, is_group) "
    "select * from unnest(cast(:id as uuid[]), cast(:organization_id as uuid[]), cast(:account_id as uuid[]), "
    "cast(:chat_wxid as text[]), cast(:is_group as boolean[])) "
    "on conflict (account_id, chat_wxid) do update set is_group = excluded.is_group "
    "returning account_id, chat_wxid, id, xmax = 0 as created"
).columns(account_id=Uuid, chat_wxid=String, id=Uuid, created=Boolean)
_MESSAGE_ARRAYS = {
    "organization_id": "uuid",
    "account_id": "uuid",
    "conversation_id": "uuid",
    "new_msg_id": "text",
    "msg_id": "text",
    "kind": "text",
    "direction": "text",
    "is_self_sent": "boolean",
    "sent_by": "text",
    "sender_wxid": "text",
    "text": "text",
    "payload": "text",  # JSON text, made jsonb in the select list
    "status": "text",
    "sent_at": "timestamptz",
}
INSERTED_MESSAGES = select(Message).from_statement(
    text(
        f"insert into messages ({', '.join(_MESSAGE_ARRAYS)}) select "
        + ", ".join("cast(v.payload as jsonb)" if column == "payload" else f"v.{column}" for column in _MESSAGE_ARRAYS)
        + " from unnest("
        + ", ".join(f"cast(:{column} as {kind}[])" for column, kind in _MESSAGE_ARRAYS.items())
        + f") as v({', '.join(_MESSAGE_ARRAYS)}) on conflict (account_id, new_msg_id) do nothing returning messages.*"
    )
)
TOUCH_CONVERSATIONS = text(
    "update conversations as c set last_message_at = v.at, last_message_preview = v.preview, "
    "unread_count = c.unread_count + v.unread, last_customer_message_at = cast(:received_at as timestamptz) "
    "from unnest(cast(:ids as uuid[]), cast(:ats as timestamptz[]), cast(:previews as text[]), "
    "cast(:unread as integer[])) as v(id, at, preview, unread) where c.id = v.id returning c.*"
)
TOUCHED_CONVERSATIONS = (
    select(Conversation).from_statement(TOUCH_CONVERSATIONS).execution_options(populate_existing=True)
)


async def upsert_conversations(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> dict[tuple[uuid.UUID, str], tuple[uuid.UUID, bool]]:
    """Conversations of many chats (created when missing): (account, chat) -> (id, whether it was created)."""
    upserted = await session.execute(
        UPSERT_CONVERSATIONS,
        {
            "id": [uuid.uuid4() for _ in rows],
            **{
                column: [row[column] for row in rows]
                for column in ("organization_id", "account_id", "chat_wxid", "is_group")
            },
        },
    )
    return {
        (account_id, chat_wxid): (conversation_id, bool(created))
        for account_id, chat_wxid, conversation_id, created in upserted.all()
    }


async def insert_messages_once(session: AsyncSession, rows: list[dict[str, Any]]) -> list[Message]:
    """Insert messages, skipping any whose `(account_id, new_msg_id)` exists; the ones inserted."""
    arrays: dict[str, list[Any]] = {column: [row.get(column) for row in rows] for column in _MESSAGE_ARRAYS}
    arrays["payload"] = [json.dumps(payload or {}, ensure_ascii=False) for payload in arrays["payload"]]
    return list(await session.scalars(INSERTED_MESSAGES, arrays))


async def touch_conversations(
    session: AsyncSession, inbound: list[Message], *, received_at: datetime
) -> list[Conversation]:
    """Move each conversation to its last customer message and add them to its unread count; the conversations.

    `received_at` becomes their `last_customer_message_at`, as the handoff rules would set it. The conversations
    come back loaded and locked (the UPDATE locks them) for the rules that follow.
    """
    by_conversation: dict[uuid.UUID, list[Message]] = {}
    for message in inbound:
        by_conversation.setdefault(message.conversation_id, []).append(message)
    if not by_conversation:
        return []
    ids = sorted(by_conversation)
    touched = await session.scalars(
        TOUCHED_CONVERSATIONS,
        {
            "ids": ids,
            "ats": [by_conversation[i][-1].sent_at or utcnow() for i in ids],
            "previews": [by_conversation[i][-1].text[:120] for i in ids],
            "unread": [len(by_conversation[i]) for i in ids],
            "received_at": received_at,
        },
    )
    return list(touched)


async def insert_message_once(session: AsyncSession, values: dict[str, Any]) -> Message | None:
    """Insert a message unless `(account_id, new_msg_id)` exists; None when it was already stored."""
    statement = (
        insert(Message)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Message.account_id, Message.new_msg_id])
        .returning(Message)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def policy_with_overrides(default: PacingPolicy, overrides: dict[str, Any]) -> PacingPolicy | None:
    """The pacer policy for an account's stored overrides, or None when it has none."""
    known = {field.name for field in dataclasses.fields(PacingPolicy)}
    chosen = {key: value for key, value in overrides.items() if key in known and value is not None}
    return dataclasses.replace(default, **chosen) if chosen else None


@dataclasses.dataclass(frozen=True, slots=True)
class Outgoing:
    """What to send: text, an image URL, a link card or a file URL."""

    kind: str = "text"  # text | image | link | file
    text: str = ""
    image_url: str = ""
    title: str = ""
    description: str = ""
    url: str = ""
    thumb_url: str = ""
    file_url: str = ""
    file_name: str = ""

    def stored_text(self) -> str:
        """The text kept on the message row (searchable, shown in lists)."""
        if self.kind == "image":
            return "[图片]"
        if self.kind == "link":
            return f"[链接] {self.title}"
        if self.kind == "file":
            return f"[文件] {self.file_name}"
        return self.text

    def payload(self) -> dict[str, Any]:
        """The message row's payload for media kinds."""
        if self.kind == "image":
            return {"image_url": self.image_url}
        if self.kind == "link":
            return {"link": {"title": self.title, "description": self.description, "url": self.url}}
        if self.kind == "file":
            return {"file": {"url": self.file_url, "name": self.file_name}}
        return {}


@dataclasses.dataclass(frozen=True, slots=True)
class SendGuard:
    """The lease a send was decided under; checked again, under the conversation's row lock, right before sending."""

    lease_version: int
    holder: str
    holder_user_id: uuid.UUID | None = None

    def violation(self, conversation: Conversation) -> str | None:
        """Why the send must not happen now, or None."""
        if conversation.lease_version != self.lease_version:
            return (
                f"lease moved from {self.lease_version} to {conversation.lease_version} "
                f"(now {conversation.mode}, held by {conversation.holder})"
            )
        if conversation.holder != self.holder or (
            self.holder_user_id is not None and conversation.holder_user_id != self.holder_user_id
        ):
            return f"the conversation is held by {conversation.holder}, not {self.holder}"
        return None


class SendDropped(Exception):
    """A guarded send found the lease changed; nothing was sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def lock_conversation(session: AsyncSession, conversation_id: uuid.UUID) -> Conversation:
    """The conversation, row-locked until the caller's transaction ends (fresh from the database)."""
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if conversation is None:
        raise LookupError(f"conversation {conversation_id} is gone")
    return conversation


async def post_content(gateway: GeweGateway, account: Account, to_wxid: str, content: Outgoing) -> Any:
    """Call the GeWe send path for the content's kind; GeWe's ids come back on the result."""
    client = gateway.client(account)
    app_id = account.app_id or ""
    if content.kind == "image":
        return await client.post_image(app_id, to_wxid, content.image_url)
    if content.kind == "link":
        return await client.post_link(
            app_id,
            to_wxid,
            title=content.title,
            desc=content.description,
            link_url=content.url,
            thumb_url=content.thumb_url,
        )
    if content.kind == "file":
        return await client.post_file(app_id, to_wxid, content.file_url, content.file_name)
    return await client.post_text(app_id, to_wxid, content.text)


async def send(
    session: AsyncSession,
    *,
    account: Account,
    to_wxid: str,
    content: Outgoing,
    sent_by: SentBy,
    gateway: GeweGateway,
    pacer: ChannelPacer,
    sent_by_user_id: uuid.UUID | None = None,
    guard: SendGuard | None = None,
    conversation_id: uuid.UUID | None = None,
) -> Message:
    """Send as the account through the shared pacer; the message ends `sent` or `failed` with GeWe's reason.

    The conversation row stays locked from the guard check until the caller commits, so a takeover either
    lands before (the send is dropped with `SendDropped`) or after the message went out, never in between.
    A caller that holds the conversation (`to_wxid`'s, existing) passes its id; otherwise it is found or created.
    """
    if account.app_id:
        pacer.set_policy(str(account.id), policy_with_overrides(pacer.default_policy, account.pacing))
        await pacer.acquire(str(account.id), to_wxid)
    if conversation_id is None:
        conversation_id, _ = await upsert_conversation(
            session, account=account, chat_wxid=to_wxid, is_group=to_wxid.endswith("@chatroom")
        )
    conversation = await lock_conversation(session, conversation_id)
    if guard is not None and (reason := guard.violation(conversation)):
        raise SendDropped(reason)
    message = await add_outgoing(
        session,
        account=account,
        conversation_id=conversation_id,
        content=content,
        sent_by=sent_by,
        sent_by_user_id=sent_by_user_id,
    )
    if not account.app_id:
        message.status, message.error = "failed", "this account has never logged in (no GeWe appId)"
    else:
        await post_message(
            session, account=account, message=message, to_wxid=to_wxid, content=content, gateway=gateway, pacer=pacer
        )
    await finish_message(session, message)
    return message


async def add_outgoing(
    session: AsyncSession,
    *,
    account: Account,
    conversation_id: uuid.UUID,
    content: Outgoing,
    sent_by: SentBy,
    sent_by_user_id: uuid.UUID | None = None,
    extra_payload: dict[str, Any] | None = None,
) -> Message:
    """Store an outgoing message as `sending` (flushed, so it has its id) before GeWe is called."""
    message = Message(
        organization_id=account.organization_id,
        account_id=account.id,
        conversation_id=conversation_id,
        kind=content.kind,
        direction="out",
        is_self_sent=True,
        sent_by=sent_by,
        sent_by_user_id=sent_by_user_id,
        sender_wxid=account.wxid or "",
        text=content.stored_text(),
        payload={**content.payload(), **(extra_payload or {})},
        status="sending",
    )
    session.add(message)
    await session.flush()
    return message


async def post_message(
    session: AsyncSession,
    *,
    account: Account,
    message: Message,
    to_wxid: str,
    content: Outgoing,
    gateway: GeweGateway,
    pacer: ChannelPacer,
) -> GeweError | None:
    """Call GeWe for a stored outgoing message and record the outcome on it; the GeWe error, if any, is returned."""
    try:
        result = await post_content(gateway, account, to_wxid, content)
    except GeweError as exc:
        if isinstance(exc, GeweTooOftenError):
            pause = await pacer.report_too_often(str(account.id))
            logger.warning("account %s sends too often; pacer paused it for %.0fs", account.id, pause)
        if isinstance(exc, GeweTransportError) and exc.maybe_delivered:
            # GeWe may have sent it: never send again; it stays `sending` until its echo confirms it.
            message.error = f"{gewe_message(exc)}; waiting for GeWe's echo to confirm"
            return exc
        message.status, message.error = "failed", gewe_message(exc)
        return exc
    message.status, message.sent_at = "sent", utcnow()
    message.new_msg_id, message.msg_id = result.new_msg_id or None, result.msg_id or None
    return None


async def finish_message(session: AsyncSession, message: Message) -> None:
    """Store a sent or failed message, move its conversation forward and tell the consoles."""
    SENDS.labels(message.sent_by or "", message.status).inc()
    await session.flush()
    await touch_conversation(
        session, conversation_id=message.conversation_id, at=utcnow(), unread_delta=0, preview=message.text
    )
    await session.refresh(message)
    publish(
        session,
        organization_id=message.organization_id,
        type="message.status",
        data=message_data(message),
        rooms=message_rooms(message),
    )


async def send_text(
    session: AsyncSession,
    *,
    account: Account,
    to_wxid: str,
    text: str,
    sent_by: SentBy,
    gateway: GeweGateway,
    pacer: ChannelPacer,
    sent_by_user_id: uuid.UUID | None = None,
    guard: SendGuard | None = None,
) -> Message:
    """Send text as the account (see `send`)."""
    return await send(
        session,
        account=account,
        to_wxid=to_wxid,
        content=Outgoing(text=text),
        sent_by=sent_by,
        gateway=gateway,
        pacer=pacer,
        sent_by_user_id=sent_by_user_id,
        guard=guard,
    )


async def mark_echo(session: AsyncSession, *, account_id: uuid.UUID, new_msg_id: str) -> bool:
    """Mark our own sent message whose GeWe echo arrived; False when no send of ours has that id."""
    found = await session.scalar(
        update(Message)
        .where(
            Message.account_id == account_id,
            Message.new_msg_id == new_msg_id,
            Message.direction == "out",
            Message.sent_by != "phone",
        )
        .values(echoed_at=utcnow())
        .returning(Message.id)
    )
    return found is not None


async def confirm_unacknowledged_send(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    kind: str,
    text: str,
    new_msg_id: str,
    msg_id: str | None,
) -> bool:
    """Match an echo to our own send whose sender stopped before GeWe's answer was stored; False when none waits.

    Such a send is left `sending` with no GeWe id (a worker killed mid-call, a timeout after GeWe may have
    acted); its echo proves it went out, so it is marked sent instead of being taken for a phone message.
    """
    waiting = (
        select(Message.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "out",
            Message.status == "sending",
            Message.new_msg_id.is_(None),
            Message.kind == kind,
        )
        .order_by(Message.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if kind == "text":
        waiting = waiting.where(Message.text == text)
    found = await session.scalar(
        update(Message)
        .where(Message.id == waiting.scalar_subquery())
        .values(status="sent", new_msg_id=new_msg_id, msg_id=msg_id, sent_at=utcnow(), echoed_at=utcnow(), error=None)
        .returning(Message.id)
    )
    return found is not None


def epoch_to_datetime(seconds: int | None) -> datetime:
    """A GeWe CreateTime (seconds) as an aware datetime; now when missing or not a representable time."""
    if not seconds:
        return utcnow()
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # e.g. milliseconds, or garbage: year 56000, 10**30
        return utcnow()


async def list_messages(session: AsyncSession, *, account_id: uuid.UUID, limit: int = 100) -> list[Message]:
    """The account's latest messages, newest first."""
    rows = await session.scalars(
        select(Message).where(Message.account_id == account_id).order_by(Message.id.desc()).limit(limit)
    )
    return list(rows)
