"""Accepting GeWe callbacks into the inbox (fast, durable, deduplicated) and processing inbox rows."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Row,
    Select,
    String,
    Uuid,
    any_,
    bindparam,
    case,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts import service as accounts
from backend.accounts.models import Account, AccountStatus
from backend.contacts.models import Contact
from backend.conversations import service as conversations
from backend.conversations.policy import effective_policy
from backend.conversations.service import ReplyJob
from backend.core.db import in_sql_text, utcnow
from backend.ingest.models import InboxEntry, InboxState
from backend.ingest.repository import InboxRepository
from backend.messages import service as messages
from backend.messages.models import Conversation, Message
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


MAX_WXID = 128  # the width of every wxid column (conversations, contacts, messages, inbox lanes)


async def accept_callback(directory: AccountDirectory, *, secret: str, body: bytes) -> AcceptResult:
    """Check, parse and store one callback (one INSERT); the answer GeWe should get."""
    ref = await directory.resolve(secret)
    if ref is None:
        return AcceptResult(AcceptOutcome.unknown_secret, "no account has this callback URL")
    base: dict[str, Any] = {"organization_id": ref.organization_id, "account_id": ref.id}
    try:
        payload = load_callback_body(body)
    except CallbackFormatError as exc:
        raw_text = body[:MAX_RAW_TEXT].decode("utf-8", "replace").replace("\x00", "\ufffd")
        return await _refuse(directory, base, InboxState.malformed, kind="malformed", raw=raw_text, reason=str(exc))
    raw = body.decode("utf-8-sig")
    event = parse_callback(payload, account_wxid=ref.wxid)
    if event.kind == EventKind.TEST_PACKET:
        return AcceptResult(AcceptOutcome.test_packet)
    if event.app_id and event.app_id != ref.app_id:
        ref = await directory.resolve(secret, fresh=True) or ref
    if event.app_id and event.app_id != ref.app_id:
        reason = f"Appid {event.app_id} does not belong to this callback URL's account"
        return await _refuse(directory, base, InboxState.rejected, kind=event.kind.value, raw=raw, reason=reason)
    too_long = next((wxid for wxid in (event.chat_id, event.sender_wxid) if len(wxid) > MAX_WXID), None)
    if too_long is not None:
        # No WeChat id is this long: kept for inspection and refused now, rather than failing every processing try.
        reason = f"wxid longer than {MAX_WXID} characters: {too_long[:40]}…"
        return await _refuse(directory, base, InboxState.malformed, kind=event.kind.value, raw=raw, reason=reason)
    lane_key = event.chat_id
    entry_id = await directory.repository.insert(
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


async def _refuse(
    directory: AccountDirectory, base: dict[str, Any], state: InboxState, *, kind: str, raw: str, reason: str
) -> AcceptResult:
    """Keep a refused callback for inspection (never taken for a duplicate) and answer why it was refused."""
    await directory.repository.insert(
        **base,
        dedupe_key=f"{state.value}:{uuid.uuid4().hex}",
        kind=kind,
        lane_key="",
        raw=raw,
        state=state.value,
        error=reason,
    )
    return AcceptResult(AcceptOutcome(state.value), reason)


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
# The same locks for every chat of a batch, taken in one order so two batches never deadlock (PostgreSQL
# evaluates a volatile function in the select list after the sort).
LOCK_CHATS = text(
    "select pg_advisory_xact_lock(key) from ("
    "select distinct hashtextextended(account_id::text || '/' || lane_key, 0) as key "
    "from ingest_inbox where id = any(cast(:ids as bigint[]))) as chats order by key"
)
PendingRow = Row[int, uuid.UUID, str, str, datetime]
PENDING_COLUMNS = (InboxEntry.id, InboxEntry.account_id, InboxEntry.lane_key, InboxEntry.raw, InboxEntry.accepted_at)


def _earliest_pending_of_chat(account_id: uuid.UUID, lane_key: str, up_to: int) -> Select[InboxEntry]:
    return (
        select(InboxEntry)
        .where(
            InboxEntry.account_id == account_id,
            InboxEntry.lane_key == lane_key,
            InboxEntry.state == in_sql_text(InboxState.accepted),
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
    row = (
        await session.execute(
            _earliest_pending_of_chat(chat.account_id, chat.lane_key, entry_id)
            .with_only_columns(*PENDING_COLUMNS)
            .with_for_update()
        )
    ).first()
    if row is None:
        return ProcessResult(entry_id, done=False)
    results = await _apply(session, [row])
    return results[0] if results else ProcessResult(entry_id, done=False)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What processing a batch of inbox rows did."""

    applied: list[ProcessResult]  # every row applied, in id order, also earlier rows of the batch's chats
    set_apart: list[int]  # rows of the batch left pending because their conversation was busy


async def process_entries(session: AsyncSession, *, entry_ids: list[int]) -> BatchResult:
    """Apply the unprocessed rows of the chats of `entry_ids`, up to the highest of them, in the caller's transaction.

    The set-based counterpart of `process_entry` for a batch: each chat's rows are applied in order (the chat
    lock is held, rows go by id), plain customer messages of all chats with a handful of statements in all.
    A chat whose conversation is busy (a send waiting for GeWe) is left pending: apply the rows set apart with
    `process_entry` once the batch is committed. A row of `entry_ids` that is no longer pending (an earlier
    batch applied it with its chat's rows) is neither applied nor set apart.
    """
    if not entry_ids:
        return BatchResult([], [])
    await session.execute(LOCK_CHATS, {"ids": entry_ids})
    rows = (await session.execute(PENDING_OF_CHATS, {"ids": entry_ids, "up_to": max(entry_ids)})).all()
    # Each row ends with its Account: loaded into the session here, _apply finds it there without a query.
    applied = await _apply(session, cast(Sequence[PendingRow], rows), skip_busy_chats=True)
    left_pending = {row.id for row in rows}.difference(result.entry_id for result in applied)
    return BatchResult(applied, [entry_id for entry_id in entry_ids if entry_id in left_pending])


# The hot path's statements are built once: building a statement costs more than executing a cached one.
# The chats come first, by primary key, and their pending rows then by the partial index of pending rows: left to
# itself the planner may instead look through every row the account ever received for the chats' ids.
_CHATS_OF_ENTRIES = (
    select(InboxEntry.account_id, InboxEntry.lane_key)
    .where(InboxEntry.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
    .distinct()
    .cte("chats_of_entries")
    .prefix_with("MATERIALIZED")
)
PENDING_OF_CHATS = (
    select(*PENDING_COLUMNS, Account)
    .join(
        _CHATS_OF_ENTRIES,
        (_CHATS_OF_ENTRIES.c.account_id == InboxEntry.account_id)
        & (_CHATS_OF_ENTRIES.c.lane_key == InboxEntry.lane_key),
    )
    .join(Account, Account.id == InboxEntry.account_id)
    .where(InboxEntry.state == in_sql_text(InboxState.accepted), InboxEntry.id <= bindparam("up_to"))
    .order_by(InboxEntry.id)
    .with_for_update(of=InboxEntry)  # not the account: lanes of one account must not wait for each other
)


MARK_PROCESSED = text(
    "update ingest_inbox set state = 'processed', processed_at = now(), error = null, attempts = attempts + 1 "
    "where id = any(cast(:ids as bigint[]))"
)


@dataclass(slots=True)
class _Pending:
    """An inbox row to apply, its account and the parsed callback."""

    row: PendingRow
    account: Account
    event: InboundEvent


def _is_plain_message(event: InboundEvent) -> bool:
    """A customer's message with a newMsgId: what the set-based path stores (everything else goes one by one)."""
    return bool(event.is_message and event.is_person and event.chat_id and event.new_msg_id and not event.is_self_sent)


async def _apply(
    session: AsyncSession, rows: Sequence[PendingRow], *, skip_busy_chats: bool = False
) -> list[ProcessResult]:
    """Apply pending inbox rows (locked, in id order) and mark them processed.

    With `skip_busy_chats`, customers' messages to a conversation another transaction holds (a send waiting for
    GeWe) are left pending, so the rest of a batch does not wait for that call; the caller applies them later.
    """
    accounts_by_id: dict[uuid.UUID, Account | None] = {}
    pending: list[_Pending] = []
    for row in rows:
        if row.account_id not in accounts_by_id:
            accounts_by_id[row.account_id] = await session.get(Account, row.account_id)
        account = accounts_by_id[row.account_id]
        if account is not None:
            pending.append(_Pending(row, account, parse_callback(row.raw, account_wxid=account.wxid)))
    chats_with_other_events = {
        (item.row.account_id, item.row.lane_key) for item in pending if not _is_plain_message(item.event)
    }
    plain = [item for item in pending if (item.row.account_id, item.row.lane_key) not in chats_with_other_events]
    if skip_busy_chats and plain:
        busy = await _busy_conversations(session, {(item.account.id, item.event.chat_id) for item in plain})
        plain = [item for item in plain if (item.account.id, item.event.chat_id) not in busy]
    results = {}
    for item in pending:
        if (item.row.account_id, item.row.lane_key) in chats_with_other_events:
            results[item.row.id] = await _apply_one(session, item)
    for item, reply_job in zip(plain, await _store_customer_messages(session, plain), strict=True):
        results[item.row.id] = _result(item, reply_job=reply_job)
    if results:
        await session.execute(MARK_PROCESSED, {"ids": list(results)})
    return [results[row_id] for row_id in sorted(results)]


def _chat_arrays(chats: Iterable[tuple[uuid.UUID, str]]) -> dict[str, list[Any]]:
    """(account, chat) pairs as the two parallel arrays the `unnest` statements below take."""
    pairs = sorted(chats)
    return {"accounts": [account_id for account_id, _ in pairs], "chats": [chat for _, chat in pairs]}


# (account, chat) pairs go in as two arrays joined through unnest: one statement text whatever their number
# (an expanding IN is rendered anew for every batch size).
_CHATS = "unnest(cast(:accounts as uuid[]), cast(:chats as text[])) as v(account_id, wxid)"
BUSY_CONVERSATIONS = text(
    f"select c.account_id, c.chat_wxid from conversations as c join {_CHATS} "
    "on c.account_id = v.account_id and c.chat_wxid = v.wxid "
    f"where c.id not in (select f.id from conversations as f join {_CHATS} "
    "on f.account_id = v.account_id and f.chat_wxid = v.wxid for update of f skip locked)"
).columns(account_id=Uuid, chat_wxid=String)


async def _busy_conversations(session: AsyncSession, chats: set[tuple[uuid.UUID, str]]) -> set[tuple[uuid.UUID, str]]:
    """The chats whose conversation row another transaction has locked; the others are locked here and now."""
    rows = await session.execute(BUSY_CONVERSATIONS, _chat_arrays(chats))
    return {(account_id, chat_wxid) for account_id, chat_wxid in rows}


def _result(item: _Pending, *, reply_job: ReplyJob | None = None, went_offline: bool = False) -> ProcessResult:
    return ProcessResult(
        item.row.id,
        done=True,
        account_id=item.account.id,
        went_offline=went_offline,
        reply_job=reply_job,
        accepted_at=item.row.accepted_at,
    )


async def _apply_one(session: AsyncSession, item: _Pending) -> ProcessResult:
    """Apply one callback of any kind."""
    account, event = item.account, item.event
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
    return _result(item, reply_job=reply_job, went_offline=went_offline)


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
    message = await messages.insert_message_once(session, _message_values(account, conversation_id, event))
    if message is None:
        return None
    await messages.touch_conversation(
        session,
        conversation_id=conversation_id,
        at=message.sent_at or utcnow(),
        unread_delta=0 if event.is_self_sent else 1,
        preview=message.text,
    )
    _publish_new(session, message)
    return message


def _message_values(account: Account, conversation_id: uuid.UUID, event: InboundEvent) -> dict[str, Any]:
    values: dict[str, Any] = no_nul(
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
            "sent_at": messages.epoch_to_datetime(event.create_time),
        }
    )
    return values


def _publish_new(session: AsyncSession, message: Message) -> None:
    publish(
        session,
        organization_id=message.organization_id,
        type="message.new",
        data=messages.message_data(message),
        rooms=messages.message_rooms(message),
    )


async def _store_customer_messages(session: AsyncSession, items: list[_Pending]) -> list[ReplyJob | None]:
    """Store a batch of customers' messages and apply the handoff rules; the reply each one is owed.

    Set-based: one conversations upsert, one messages INSERT and one conversations UPDATE (which loads and locks
    them) for the whole batch, whatever its size; only the rules run per message.
    """
    if not items:
        return []
    first_of_chat: dict[tuple[uuid.UUID, str], _Pending] = {}
    for item in items:
        first_of_chat.setdefault((item.account.id, item.event.chat_id), item)
    upserted = await messages.upsert_conversations(
        session,
        [
            {
                "organization_id": item.account.organization_id,
                "account_id": account_id,
                "chat_wxid": chat_wxid,
                "is_group": item.event.is_group,
            }
            for (account_id, chat_wxid), item in sorted(first_of_chat.items())
        ],
    )
    for chat, (_, created) in upserted.items():
        if created and not first_of_chat[chat].event.is_group:
            await accounts.upsert_contact(session, account=first_of_chat[chat].account, wxid=chat[1])
    stored = await messages.insert_messages_once(
        session,
        [
            _message_values(item.account, upserted[(item.account.id, item.event.chat_id)][0], item.event)
            for item in items
        ],
    )
    by_new_msg_id = {(message.account_id, message.new_msg_id): message for message in stored}
    new_messages = [by_new_msg_id.get((item.account.id, no_nul(item.event.new_msg_id))) for item in items]
    # The rules set last_customer_message_at to `now` too: the value is already there, no UPDATE per conversation.
    now = utcnow()
    touched = await messages.touch_conversations(
        session, [message for message in new_messages if message is not None], received_at=now
    )
    if not touched:
        return [None] * len(items)
    locked = {conversation.id: conversation for conversation in touched}
    policies = {
        account.id: await effective_policy(session, organization_id=account.organization_id, account_id=account.id)
        for account in {item.account.id: item.account for item in items}.values()
    }
    tags = await _contact_tags(session, [c for c in locked.values() if not c.is_group])
    reply_jobs: list[ReplyJob | None] = []
    for item, message in zip(items, new_messages, strict=True):
        if message is None:
            reply_jobs.append(None)
            continue
        _publish_new(session, message)
        conversation = locked[message.conversation_id]
        reply_jobs.append(
            await conversations.on_inbound(
                session,
                account=item.account,
                message=message,
                mentions_account=item.event.mentions_account,
                now=now,
                conversation=conversation,
                policy=policies[item.account.id],
                contact_tags=tags.get((conversation.account_id, conversation.chat_wxid), []),
            )
        )
    return reply_jobs


async def _contact_tags(session: AsyncSession, chats: list[Conversation]) -> dict[tuple[uuid.UUID, str], list[str]]:
    """The tags of the contacts behind private conversations, in one query."""
    if not chats:
        return {}
    rows = await session.execute(CONTACT_TAGS, _chat_arrays((c.account_id, c.chat_wxid) for c in chats))
    return {(account_id, wxid): list(tags or []) for account_id, wxid, tags in rows}


CONTACT_TAGS = text(
    f"select k.account_id, k.wxid, k.tags from contacts as k join {_CHATS} on k.account_id = v.account_id "
    "and k.wxid = v.wxid"
).columns(account_id=Uuid, wxid=String, tags=Contact.tags.type)


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


async def prune_inbox(session: AsyncSession, *, accepted_before: datetime, limit: int) -> int:
    """Delete up to `limit` handled inbox rows accepted before the cutoff (pending rows stay); returns how many.

    A re-delivery of a pruned callback is accepted again but stored once: messages are unique per newMsgId too.
    """
    handled = (
        select(InboxEntry.id)
        .where(InboxEntry.accepted_at < accepted_before, InboxEntry.state != in_sql_text(InboxState.accepted))
        .limit(limit)
    )
    result = await session.execute(delete(InboxEntry).where(InboxEntry.id.in_(handled.scalar_subquery())))
    return int(cast(Any, result).rowcount)
