"""Accepting GeWe callbacks into the inbox (fast, durable, deduplicated) and processing inbox rows."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, case, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts import service as accounts
from backend.accounts.models import Account, AccountStatus
from backend.conversations import service as conversations
from backend.conversations.service import ReplyJob
from backend.core.db import utcnow
from backend.ingest.models import InboxEntry, InboxState
from backend.ingest.repository import InboxRepository
from backend.messages import service as messages
from backend.messages.models import Message
from backend.realtime.service import publish
from bots.gewe import CallbackFormatError, EventKind, InboundEvent, parse_callback
from bots.gewe.callbacks import load_callback_body

logger = logging.getLogger(__name__)

OFFLINE_DETAIL = "GeWe 报告账号已离线"
MAX_RAW_TEXT = 64_000


@dataclass(frozen=True, slots=True)
class AccountRef:
    """What the callback endpoint needs to know about an account."""

    id: uuid.UUID
    organization_id: uuid.UUID
    app_id: str | None
    wxid: str | None
    callback_secret: str


class AcceptOutcome(StrEnum):
    """How the callback endpoint answered."""

    accepted = "accepted"
    duplicate = "duplicate"
    test_packet = "test_packet"
    malformed = "malformed"
    rejected = "rejected"
    unknown_secret = "unknown_secret"


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """The answer to one callback and, when accepted, the inbox row to dispatch."""

    outcome: AcceptOutcome
    reason: str = ""
    entry_id: int | None = None
    lane_key: str = ""


class AccountDirectory:
    """Callback secret -> account, cached briefly so an accepted callback costs one INSERT."""

    def __init__(self, repository: InboxRepository, ttl_seconds: float = 10.0) -> None:
        self.repository = repository
        self.ttl_seconds = ttl_seconds
        self._cache: dict[str, tuple[float, AccountRef]] = {}

    async def resolve(self, secret: str, *, fresh: bool = False) -> AccountRef | None:
        """The account whose callback secret this is, or None."""
        cached = self._cache.get(secret)
        if cached and not fresh and cached[0] > time.monotonic():
            return cached[1]
        row = await self.repository.find_account(secret)
        if row is None or not accounts.secrets_match(row["callback_secret"], secret):
            self._cache.pop(secret, None)
            return None
        ref = AccountRef(row["id"], row["organization_id"], row["app_id"], row["wxid"], row["callback_secret"])
        # Only fully logged-in accounts are cached: a login in progress changes appId/wxid.
        if ref.app_id and ref.wxid:
            self._cache[secret] = (time.monotonic() + self.ttl_seconds, ref)
        return ref

    def forget(self, secret: str) -> None:
        """Drop a cached secret (account deleted or changed)."""
        self._cache.pop(secret, None)


def _digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def dedupe_key(event: InboundEvent) -> str:
    """The inbox dedupe key: the newMsgId for messages, else a digest (Offline always counts anew)."""
    if event.kind == EventKind.OFFLINE:
        return f"offline:{uuid.uuid4().hex}"
    if event.new_msg_id and event.type_name.replace("_", "").lower() == "addmsg":
        return event.new_msg_id
    return f"sha256:{_digest(event.raw)}"


async def accept_callback(directory: AccountDirectory, *, secret: str, body: bytes) -> AcceptResult:
    """Check, parse and store one callback (one INSERT); the answer GeWe should get."""
    store = directory.repository.insert
    ref = await directory.resolve(secret)
    if ref is None:
        return AcceptResult(AcceptOutcome.unknown_secret, "no account has this callback URL")
    base: dict[str, Any] = {"organization_id": ref.organization_id, "account_id": ref.id}
    try:
        payload = load_callback_body(body)
    except CallbackFormatError as exc:
        raw_text = body[:MAX_RAW_TEXT].decode("utf-8", "replace").replace("\x00", "\ufffd")
        await store(
            **base,
            dedupe_key=f"malformed:{uuid.uuid4().hex}",
            kind="malformed",
            lane_key="",
            raw=raw_text,
            state=InboxState.malformed.value,
            error=str(exc),
        )
        return AcceptResult(AcceptOutcome.malformed, str(exc))
    raw = body.decode("utf-8-sig")
    event = parse_callback(payload, account_wxid=ref.wxid)
    if event.kind == EventKind.TEST_PACKET:
        return AcceptResult(AcceptOutcome.test_packet)
    if event.app_id and event.app_id != ref.app_id:
        ref = await directory.resolve(secret, fresh=True) or ref
    if event.app_id and event.app_id != ref.app_id:
        reason = f"Appid {event.app_id} does not belong to this callback URL's account"
        await store(
            **base,
            dedupe_key=f"rejected:{uuid.uuid4().hex}",
            kind=event.kind.value,
            lane_key="",
            raw=raw,
            state=InboxState.rejected.value,
            error=reason,
        )
        return AcceptResult(AcceptOutcome.rejected, reason)
    lane_key = event.chat_id[:128]
    entry_id = await store(
        **base,
        dedupe_key=dedupe_key(event),
        kind=event.kind.value,
        lane_key=lane_key,
        raw=raw,
        state=InboxState.accepted.value,
    )
    if entry_id is None:
        return AcceptResult(AcceptOutcome.duplicate)
    return AcceptResult(AcceptOutcome.accepted, entry_id=entry_id, lane_key=lane_key)


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What processing one inbox row did."""

    entry_id: int
    done: bool  # False when the row was already handled (or gone)
    account_id: uuid.UUID | None = None
    went_offline: bool = False
    reply_job: ReplyJob | None = None
    accepted_at: datetime | None = None


# Serialises one chat's rows across every worker process; the lock is released with the transaction.
LOCK_CHAT = text(
    "select account_id, lane_key, "
    "pg_advisory_xact_lock(hashtextextended(account_id::text || '/' || lane_key, 0))::text "
    "from ingest_inbox where id = :id"
)


def _earliest_pending_of_chat(account_id: uuid.UUID, lane_key: str, up_to: int) -> Select[InboxEntry]:
    return (
        select(InboxEntry)
        .where(
            InboxEntry.account_id == account_id,
            InboxEntry.lane_key == lane_key,
            InboxEntry.state == InboxState.accepted,
            InboxEntry.id <= up_to,
        )
        .order_by(InboxEntry.id)
        .limit(1)
    )


async def process_entry(session: AsyncSession, *, entry_id: int) -> ProcessResult:
    """Apply the earliest unprocessed row of `entry_id`'s chat up to `entry_id`, in the caller's transaction.

    Several workers may hold rows of one chat (re-claimed stream entries, sweeps, more than one consumer
    process): the chat lock and "earliest first" keep the chat in order whichever worker gets which row.
    The result names the row applied; the caller repeats until that is `entry_id`.
    """
    chat = (await session.execute(LOCK_CHAT, {"id": entry_id})).first()
    if chat is None:
        return ProcessResult(entry_id, done=False)
    entry = await session.scalar(_earliest_pending_of_chat(chat.account_id, chat.lane_key, entry_id).with_for_update())
    if entry is None:
        return ProcessResult(entry_id, done=False)
    account = await session.get(Account, entry.account_id)
    if account is None:
        return ProcessResult(entry_id, done=False)
    event = parse_callback(entry.raw, account_wxid=account.wxid)
    went_offline = False
    if event.kind == EventKind.OFFLINE:
        went_offline = await accounts.set_status(
            session, account=account, status=AccountStatus.offline, detail=OFFLINE_DETAIL
        )
    elif event.kind == EventKind.CONTACT_CHANGED and event.contact and event.contact.wxid:
        await accounts.upsert_contact(
            session,
            account=account,
            wxid=no_nul(event.contact.wxid),
            nickname=no_nul(event.contact.nickname) or None,
            remark=no_nul(event.contact.remark) or None,
        )
    elif event.kind == EventKind.CONTACT_DELETED and event.contact and event.contact.wxid:
        await accounts.remove_contact(session, account=account, wxid=event.contact.wxid)
    reply_job = None
    if event.is_message and event.is_person and event.chat_id:
        message = await _store_message(session, account=account, event=event)
        if message is not None:
            reply_job = await conversations.on_inbound(
                session, account=account, message=message, mentions_account=event.mentions_account
            )
    entry.attempts += 1
    entry.state, entry.processed_at, entry.error = InboxState.processed, utcnow(), None
    await session.flush()
    return ProcessResult(
        entry.id,
        done=True,
        account_id=account.id,
        went_offline=went_offline,
        reply_job=reply_job,
        accepted_at=entry.accepted_at,
    )


def no_nul(value: Any) -> Any:
    """The value with NUL characters removed from every string (PostgreSQL text cannot hold them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {key: no_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [no_nul(item) for item in value]
    return value


def _event_payload(event: InboundEvent) -> dict[str, Any]:
    payload: dict[str, Any] = {"msg_type": event.msg_type, "mentions_account": event.mentions_account}
    for name in ("link", "file", "quote", "mini_program", "transfer", "revoke", "pat", "location", "card"):
        value = getattr(event, name)
        if value is not None:
            payload[name] = {key: getattr(value, key) for key in value.__slots__}
    if event.friend_request is not None:
        payload["friend_request"] = {
            "from_wxid": event.friend_request.from_wxid,
            "content": event.friend_request.content,
        }
    return payload


async def _store_message(session: AsyncSession, *, account: Account, event: InboundEvent) -> Message | None:
    """Store a message once; None for a duplicate or the echo of our own send."""
    # The upsert waits for the row lock a send holds until it commits, so our own send's newMsgId is
    # visible to mark_echo below and its echo is never mistaken for a message typed on the phone.
    conversation_id, created = await messages.upsert_conversation(
        session, account=account, chat_wxid=event.chat_id, is_group=event.is_group
    )
    if (
        event.is_self_sent
        and event.new_msg_id
        and (
            await messages.mark_echo(session, account_id=account.id, new_msg_id=event.new_msg_id)
            or await messages.confirm_unacknowledged_send(
                session,
                conversation_id=conversation_id,
                kind=event.kind.value,
                text=event.text or event.content,
                new_msg_id=event.new_msg_id,
                msg_id=event.msg_id or None,
            )
        )
    ):
        return None
    if created and not event.is_group:
        await accounts.upsert_contact(session, account=account, wxid=event.chat_id)
    at = messages.epoch_to_datetime(event.create_time)
    message = await messages.insert_message_once(
        session,
        no_nul(
            {
                "organization_id": account.organization_id,
                "account_id": account.id,
                "conversation_id": conversation_id,
                "new_msg_id": event.new_msg_id or None,
                "msg_id": event.msg_id or None,
                "kind": event.kind.value,
                "direction": "out" if event.is_self_sent else "in",
                "is_self_sent": event.is_self_sent,
                "sent_by": "phone" if event.is_self_sent else "customer",
                "sender_wxid": event.sender_wxid,
                "text": event.text or event.content,
                "payload": _event_payload(event),
                "status": "sent" if event.is_self_sent else "received",
                "sent_at": at,
            }
        ),
    )
    if message is None:
        return None
    await messages.touch_conversation(
        session,
        conversation_id=conversation_id,
        at=at,
        unread_delta=0 if event.is_self_sent else 1,
        preview=message.text,
    )
    publish(
        session,
        organization_id=account.organization_id,
        type="message.new",
        data=messages.message_data(message),
        rooms=messages.message_rooms(message),
    )
    return message


async def record_failure(session: AsyncSession, *, entry_id: int, error: str, max_attempts: int) -> None:
    """Count a failed attempt on the row that failed (the chat's earliest pending one); it fails for good after `max_attempts`."""
    entry = await session.scalar(select(InboxEntry).where(InboxEntry.id == entry_id))
    if entry is None:
        return
    failed_id = await session.scalar(
        _earliest_pending_of_chat(entry.account_id, entry.lane_key, entry_id).with_only_columns(InboxEntry.id)
    )
    await session.execute(
        update(InboxEntry)
        .where(InboxEntry.id == (failed_id or entry_id), InboxEntry.state == InboxState.accepted)
        .values(
            attempts=InboxEntry.attempts + 1,
            error=error[:2000],
            state=case((InboxEntry.attempts + 1 >= max_attempts, InboxState.failed.value), else_=InboxEntry.state),
        )
    )
