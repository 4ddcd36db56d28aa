"""Who holds a conversation: modes, leases, handoff triggers, staff actions, idle release and escalation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.gewe import GeweGateway
from backend.accounts.models import Account
from backend.audit import service as audit
from backend.auth.models import Role, User
from backend.contacts.models import Contact
from backend.conversations.models import ConversationNote, ConversationPolicy
from backend.conversations.policy import Policy, effective_policy, effective_settings, merge, stored_settings
from backend.conversations.schemas import (
    ContactBrief,
    ConversationOut,
    Filter,
    MessagePage,
    MessageWithDecision,
    NoteOut,
)
from backend.core.db import utcnow
from backend.core.deps import get_in_org
from backend.core.errors import AppError, Conflict, NotFound
from backend.core.logs import conversation_id_var
from backend.core.metrics import HANDOFFS
from backend.messages.models import Conversation, Message
from backend.messages.service import (
    ChannelPacer,
    Outgoing,
    SendDropped,
    SendGuard,
    conversation_rooms,
    lock_conversation,
    send,
)
from backend.realtime.service import account_room, publish, user_room
from backend.replies.models import ReplyDecision

STAFF_ROLES = (Role.admin.value, Role.manager.value, Role.sales.value)
SUPERVISOR_ROLES = (Role.admin.value, Role.manager.value)
SUMMARY_MESSAGES = 3


@dataclass(frozen=True, slots=True)
class ReplyJob:
    """Work for the reply pipeline: answer a customer message, or acknowledge a handoff."""

    conversation_id: uuid.UUID
    trigger_message_id: int
    kind: str  # answer | ack
    lease_version: int


# Views ---------------------------------------------------------------------------------------------


async def views(session: AsyncSession, conversations: list[Conversation]) -> list[ConversationOut]:
    """Workbench views of conversations, with account, contact and holder names loaded in three queries."""
    if not conversations:
        return []
    account_ids = {c.account_id for c in conversations}
    accounts = {
        row.id: row.nickname
        for row in (await session.execute(select(Account.id, Account.nickname).where(Account.id.in_(account_ids))))
    }
    pairs = [(c.account_id, c.chat_wxid) for c in conversations]
    contacts = {
        (c.account_id, c.wxid): c
        for c in await session.scalars(
            select(Contact).where(Contact.account_id.in_(account_ids), Contact.wxid.in_({wxid for _, wxid in pairs}))
        )
    }
    holder_ids = {c.holder_user_id for c in conversations if c.holder_user_id}
    names = (
        {
            row.id: row.display_name or row.username
            for row in await session.execute(
                select(User.id, User.display_name, User.username).where(User.id.in_(holder_ids))
            )
        }
        if holder_ids
        else {}
    )
    out = []
    for c in conversations:
        contact = contacts.get((c.account_id, c.chat_wxid))
        out.append(
            ConversationOut(
                id=c.id,
                account_id=c.account_id,
                account_nickname=accounts.get(c.account_id, ""),
                chat_wxid=c.chat_wxid,
                is_group=c.is_group,
                title=(contact.remark or contact.nickname or c.chat_wxid) if contact else c.chat_wxid,
                contact=ContactBrief.model_validate(contact) if contact else None,
                mode=c.mode,
                holder=c.holder,
                holder_user_id=c.holder_user_id,
                holder_name=names.get(c.holder_user_id) if c.holder_user_id else None,
                lease_version=c.lease_version,
                mode_reason=c.mode_reason,
                mode_changed_at=c.mode_changed_at,
                handoff_summary=c.handoff_summary,
                handoff_deadline=c.handoff_deadline,
                unread_count=c.unread_count,
                last_message_at=c.last_message_at,
                last_message_preview=c.last_message_preview,
            )
        )
    return out


async def view(session: AsyncSession, conversation: Conversation) -> ConversationOut:
    """The workbench view of one conversation."""
    [single] = await views(session, [conversation])
    return single


async def publish_updated(session: AsyncSession, conversation: Conversation) -> ConversationOut:
    """Tell consoles the conversation changed (`conversation.updated`)."""
    body = await view(session, conversation)
    publish(
        session,
        organization_id=conversation.organization_id,
        type="conversation.updated",
        data=body.model_dump(mode="json"),
        rooms=conversation_rooms(conversation.organization_id, conversation.account_id, conversation.id),
    )
    return body


# Queries -------------------------------------------------------------------------------------------


def list_statement(user: User, *, filter: Filter, account_id: uuid.UUID | None) -> Select[Any]:
    """The user's organisation's conversations matching a workbench filter, most recent first."""
    statement = select(Conversation).where(Conversation.organization_id == user.organization_id)
    if account_id is not None:
        statement = statement.where(Conversation.account_id == account_id)
    if filter == "mine":
        statement = statement.where(Conversation.holder == "staff", Conversation.holder_user_id == user.id)
    elif filter == "waiting":
        statement = statement.where(Conversation.mode == "pending_human")
    elif filter in ("ai", "human", "closed"):
        statement = statement.where(Conversation.mode == filter)
    return statement.order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id)


async def list_conversations(
    session: AsyncSession, *, user: User, filter: Filter, account_id: uuid.UUID | None, limit: int
) -> list[ConversationOut]:
    """A page of the workbench list."""
    rows = list(await session.scalars(list_statement(user, filter=filter, account_id=account_id).limit(limit)))
    return await views(session, rows)


async def get_conversation(session: AsyncSession, *, user: User, conversation_id: uuid.UUID) -> Conversation:
    """A conversation of the user's organisation, or 404 (the request's log lines name it from here on)."""
    conversation_id_var.set(str(conversation_id))
    return await get_in_org(session, Conversation, conversation_id, user)


async def message_page(
    session: AsyncSession, *, conversation: Conversation, before_id: int | None, limit: int
) -> MessagePage:
    """Messages oldest first, older pages by `before_id`; AI messages carry their decision record's id."""
    statement = (
        select(Message, ReplyDecision.id)
        .outerjoin(ReplyDecision, ReplyDecision.reply_message_id == Message.id)
        .where(Message.conversation_id == conversation.id)
    )
    if before_id is not None:
        statement = statement.where(Message.id < before_id)
    rows = (await session.execute(statement.order_by(Message.id.desc()).limit(limit + 1))).all()
    items = [
        MessageWithDecision.model_validate(message).model_copy(update={"decision_id": decision_id})
        for message, decision_id in reversed(rows[:limit])
    ]
    return MessagePage(items=items, has_more=len(rows) > limit)


async def decision_of(session: AsyncSession, *, conversation: Conversation, decision_id: int) -> ReplyDecision:
    """One decision record of the conversation, or 404."""
    decision = await session.scalar(
        select(ReplyDecision).where(ReplyDecision.id == decision_id, ReplyDecision.conversation_id == conversation.id)
    )
    if decision is None:
        raise NotFound(f"decision {decision_id} not found")
    return decision


async def locked_in_org(session: AsyncSession, *, user: User, conversation_id: uuid.UUID) -> Conversation:
    """The user's organisation's conversation, row-locked for a mode change, or 404."""
    await get_conversation(session, user=user, conversation_id=conversation_id)
    return await lock_conversation(session, conversation_id)


async def notes_of(session: AsyncSession, *, conversation_id: uuid.UUID) -> list[NoteOut]:
    """Notes on a conversation, oldest first."""
    rows = await session.execute(
        select(ConversationNote, User.display_name, User.username)
        .outerjoin(User, User.id == ConversationNote.author_user_id)
        .where(ConversationNote.conversation_id == conversation_id)
        .order_by(ConversationNote.created_at)
    )
    return [
        NoteOut(id=note.id, author_name=display or username or "", text=note.text, created_at=note.created_at)
        for note, display, username in rows
    ]


# Mode changes --------------------------------------------------------------------------------------


async def change_mode(
    session: AsyncSession,
    conversation: Conversation,
    *,
    mode: str,
    holder: str,
    reason: str,
    action: str,
    holder_user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> ConversationOut:
    """Move a locked conversation to a mode and holder; bumps the lease, audits and publishes the change."""
    now = now or utcnow()
    previous = {"mode": conversation.mode, "holder": conversation.holder, "holder_user_id": conversation.holder_user_id}
    conversation.mode, conversation.holder, conversation.holder_user_id = mode, holder, holder_user_id
    conversation.lease_version += 1
    conversation.mode_reason, conversation.mode_changed_at = reason, now
    if mode != "pending_human":
        conversation.handoff_deadline = conversation.escalated_at = None
    if holder == "staff":
        conversation.last_human_activity_at = now
    await audit.record(
        session,
        organization_id=conversation.organization_id,
        actor_id=actor_id,
        action=action,
        target_type="conversation",
        target_id=str(conversation.id),
        detail={
            "from_mode": previous["mode"],
            "from_holder": previous["holder"],
            "from_user": str(previous["holder_user_id"]) if previous["holder_user_id"] else None,
            "to_mode": mode,
            "to_holder": holder,
            "to_user": str(holder_user_id) if holder_user_id else None,
            "reason": reason,
            "lease_version": conversation.lease_version,
        },
    )
    await session.flush()
    return await publish_updated(session, conversation)


async def _customer_summary(session: AsyncSession, conversation: Conversation) -> str:
    texts = list(
        await session.scalars(
            select(Message.text)
            .where(Message.conversation_id == conversation.id, Message.direction == "in", Message.text != "")
            .order_by(Message.id.desc())
            .limit(SUMMARY_MESSAGES)
        )
    )
    if not texts:
        return "客户暂无文字消息"
    return "客户最近说：" + " / ".join(f"“{t[:60]}”" for t in reversed(texts))


async def _handoff_recipients(session: AsyncSession, account: Account) -> list[uuid.UUID]:
    """The account's owner when active staff, else every active sales user (managers when there is none)."""
    if account.owner_user_id:
        owner = await session.get(User, account.owner_user_id)
        if owner is not None and owner.is_active and owner.role in STAFF_ROLES:
            return [owner.id]
    for roles in ((Role.sales.value,), SUPERVISOR_ROLES):
        ids = list(
            await session.scalars(
                select(User.id).where(
                    User.organization_id == account.organization_id, User.is_active, User.role.in_(roles)
                )
            )
        )
        if ids:
            return ids
    return []


async def _supervisors(session: AsyncSession, organization_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        await session.scalars(
            select(User.id).where(
                User.organization_id == organization_id, User.is_active, User.role.in_(SUPERVISOR_ROLES)
            )
        )
    )


async def request_handoff(
    session: AsyncSession,
    conversation: Conversation,
    *,
    account: Account,
    policy: Policy,
    reason: str,
    keep_ai: bool = False,
    now: datetime | None = None,
) -> ConversationOut:
    """Queue a locked conversation for people (`pending_human`) and notify the account's staff."""
    now = now or utcnow()
    conversation.handoff_summary = await _customer_summary(session, conversation)
    conversation.handoff_deadline = now + timedelta(minutes=policy.handoff_accept_minutes)
    conversation.escalated_at = None
    body = await change_mode(
        session,
        conversation,
        mode="pending_human",
        holder="ai" if keep_ai else "none",
        reason=reason,
        action="conversation.handoff_requested",
        now=now,
    )
    recipients = await _handoff_recipients(session, account)
    await _notify(
        session,
        conversation,
        body,
        type="handoff.requested",
        reason=reason,
        recipients=recipients,
        extra_rooms=(account_room(account.id),),
    )
    HANDOFFS.labels("requested").inc()
    return body


async def _notify(
    session: AsyncSession,
    conversation: Conversation,
    body: ConversationOut,
    *,
    type: str,
    reason: str,
    recipients: list[uuid.UUID],
    extra_rooms: tuple[str, ...] = (),
) -> None:
    """Send a handoff event to the named staff (their user rooms)."""
    deadline = conversation.handoff_deadline
    publish(
        session,
        organization_id=conversation.organization_id,
        type=type,
        data={
            "conversation": body.model_dump(mode="json"),
            "reason": reason,
            "summary": conversation.handoff_summary,
            "deadline": deadline.isoformat() if deadline else None,
            "recipients": [str(r) for r in recipients],
        },
        rooms=[user_room(r) for r in recipients] + list(extra_rooms),
    )


def _matching(words: list[str], text: str) -> str | None:
    lowered = text.lower()
    return next((word for word in words if word and word.lower() in lowered), None)


async def on_inbound(
    session: AsyncSession,
    *,
    account: Account,
    message: Message,
    mentions_account: bool,
    now: datetime | None = None,
    conversation: Conversation | None = None,
    policy: Policy | None = None,
    contact_tags: list[str] | None = None,
) -> ReplyJob | None:
    """Apply the handoff rules to a newly stored message; the reply the AI owes, if any.

    A batch passes the conversation (already locked), the account's policy and the contact's tags it loaded for
    all its messages at once; otherwise they are loaded here.
    """
    now = now or utcnow()
    conversation = conversation or await lock_conversation(session, message.conversation_id)
    policy = policy or await effective_policy(session, organization_id=account.organization_id, account_id=account.id)
    if message.sent_by == "phone":
        conversation.last_human_activity_at = now
        if not (conversation.mode == "human" and conversation.holder == "staff"):
            await change_mode(
                session,
                conversation,
                mode="human",
                holder="staff",
                holder_user_id=account.owner_user_id,
                reason="账号主人在手机上回复了客户，AI 暂停",
                action="conversation.phone_takeover",
                now=now,
            )
            HANDOFFS.labels("phone").inc()
        return None
    if message.direction != "in":
        return None
    if conversation.last_customer_message_at != now:  # a batch has set it already: leave the row clean, no flush
        conversation.last_customer_message_at = now
    if conversation.mode == "closed":
        await change_mode(
            session,
            conversation,
            mode="ai",
            holder="ai",
            reason="客户再次来信，会话重新打开",
            action="conversation.reopened",
        )
    if conversation.is_group:
        if policy.group_allow_list and conversation.chat_wxid not in policy.group_allow_list:
            return None
        addressed = (policy.group_reply_on_mention and mentions_account) or _matching(
            policy.group_keywords, message.text
        )
        if not addressed:
            return None
    if conversation.holder != "ai":
        return None
    keyword = _matching(policy.handoff_keywords, message.text)
    if keyword and conversation.mode == "ai":
        await request_handoff(
            session, conversation, account=account, policy=policy, reason=f"客户要求人工服务（“{keyword}”）", now=now
        )
        return ReplyJob(conversation.id, message.id, "ack", conversation.lease_version)
    if conversation.mode == "ai" and not conversation.is_group:
        if contact_tags is None:
            contact_tags = await session.scalar(
                select(Contact.tags).where(Contact.account_id == account.id, Contact.wxid == conversation.chat_wxid)
            )
        tag = next((t for t in (contact_tags or []) if t in policy.handoff_tags), None)
        if tag:
            open_now = policy.working_hours.is_open(now)
            await request_handoff(
                session,
                conversation,
                account=account,
                policy=policy,
                reason=f"重点客户（标签“{tag}”）由人工接待",
                keep_ai=not open_now,
                now=now,
            )
            return None if open_now else ReplyJob(conversation.id, message.id, "answer", conversation.lease_version)
    if not account.ai_enabled:
        if conversation.mode == "ai":
            await request_handoff(
                session, conversation, account=account, policy=policy, reason="该账号未开启 AI 接待", now=now
            )
        return None
    if conversation.mode == "ai" and not policy.working_hours.is_open(now):
        await request_handoff(
            session,
            conversation,
            account=account,
            policy=policy,
            reason="非工作时间：AI 先接待，上班后请人工跟进",
            keep_ai=True,
            now=now,
        )
    return ReplyJob(conversation.id, message.id, "answer", conversation.lease_version)


async def hand_to_people(session: AsyncSession, *, conversation_id: uuid.UUID, lease_version: int, reason: str) -> bool:
    """Queue an AI-held conversation for people (AI error, low confidence, budget); False when the lease moved."""
    conversation = await lock_conversation(session, conversation_id)
    if conversation.lease_version != lease_version or conversation.holder != "ai":
        return False
    account = await session.get(Account, conversation.account_id)
    if account is None:
        return False
    policy = await effective_policy(session, organization_id=account.organization_id, account_id=account.id)
    await request_handoff(session, conversation, account=account, policy=policy, reason=reason)
    return True


# Staff actions -------------------------------------------------------------------------------------


def _held_by_someone_else(conversation: Conversation, user: User) -> bool:
    return conversation.holder == "staff" and conversation.holder_user_id not in (None, user.id)


async def take_over(session: AsyncSession, conversation: Conversation, *, user: User, reason: str) -> ConversationOut:
    """The user holds the (locked) conversation; the AI stops at once (its in-flight reply is dropped)."""
    if conversation.holder == "staff" and conversation.holder_user_id == user.id and conversation.mode == "human":
        return await view(session, conversation)
    if _held_by_someone_else(conversation, user) and user.role not in SUPERVISOR_ROLES:
        raise Conflict("另一位同事正在接待这个会话；请让对方转交，或请主管处理", code="held_by_other")
    HANDOFFS.labels("accepted").inc()
    return await change_mode(
        session,
        conversation,
        mode="human",
        holder="staff",
        holder_user_id=user.id,
        reason=reason or f"{user.display_name or user.username} 接管了会话",
        action="conversation.takeover",
        actor_id=user.id,
    )


async def release(session: AsyncSession, conversation: Conversation, *, user: User, reason: str) -> ConversationOut:
    """Give the (locked) conversation back to the AI (or to the queue when the account's AI is off)."""
    if conversation.mode == "ai" and conversation.holder == "ai":
        raise Conflict("会话已由 AI 接待", code="already_ai")
    if _held_by_someone_else(conversation, user) and user.role not in SUPERVISOR_ROLES:
        raise Conflict("只有接待人或主管可以释放这个会话", code="held_by_other")
    return await _back_to_ai(
        session,
        conversation,
        reason=reason or f"{user.display_name or user.username} 交还给 AI",
        action="conversation.release",
        actor_id=user.id,
    )


async def _back_to_ai(
    session: AsyncSession,
    conversation: Conversation,
    *,
    reason: str,
    action: str,
    actor_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> ConversationOut:
    """Give a locked conversation to the AI, or queue it for people when the account's AI is off."""
    account = await session.get(Account, conversation.account_id)
    ai_on = account is not None and account.ai_enabled
    return await change_mode(
        session,
        conversation,
        mode="ai" if ai_on else "pending_human",
        holder="ai" if ai_on else "none",
        reason=reason,
        action=action,
        actor_id=actor_id,
        now=now,
    )


async def transfer(
    session: AsyncSession, conversation: Conversation, *, user: User, to_user_id: uuid.UUID, reason: str
) -> ConversationOut:
    """Hand the (locked) conversation to another active staff member of the organisation, and tell them."""
    target = await session.scalar(
        select(User).where(
            User.id == to_user_id,
            User.organization_id == user.organization_id,
            User.is_active,
            User.role.in_(STAFF_ROLES),
        )
    )
    if target is None:
        raise NotFound(f"no active staff member {to_user_id} in your organisation")
    if _held_by_someone_else(conversation, user) and user.role not in SUPERVISOR_ROLES:
        raise Conflict("只有接待人或主管可以转交这个会话", code="held_by_other")
    why = reason or f"{user.display_name or user.username} 转交给 {target.display_name or target.username}"
    body = await change_mode(
        session,
        conversation,
        mode="human",
        holder="staff",
        holder_user_id=target.id,
        reason=why,
        action="conversation.transfer",
        actor_id=user.id,
    )
    await _notify(session, conversation, body, type="handoff.requested", reason=why, recipients=[target.id])
    return body


async def resolve(session: AsyncSession, conversation: Conversation, *, user: User) -> ConversationOut:
    """Close the (locked) conversation; the customer's next message reopens it with the AI."""
    if conversation.mode == "closed":
        return await view(session, conversation)
    conversation.unread_count = 0
    return await change_mode(
        session,
        conversation,
        mode="closed",
        holder="none",
        reason=f"{user.display_name or user.username} 标记为已解决",
        action="conversation.resolve",
        actor_id=user.id,
    )


async def send_as_person(
    session: AsyncSession,
    *,
    user: User,
    conversation_id: uuid.UUID,
    content: Outgoing,
    gateway: GeweGateway,
    pacer: ChannelPacer,
) -> Message:
    """Send as the user, taking the conversation over first when they do not hold it yet."""
    conversation = await get_conversation(session, user=user, conversation_id=conversation_id)
    if conversation.mode == "closed":
        raise Conflict("会话已结束；客户再次来信后会重新打开", code="conversation_closed")
    if not (conversation.holder == "staff" and conversation.holder_user_id == user.id):
        # Only a takeover locks before the send; a holder's own send takes the pacer slot first, then the lock.
        conversation = await lock_conversation(session, conversation.id)
        await take_over(session, conversation, user=user, reason="")
    account = await session.get(Account, conversation.account_id)
    if account is None:
        raise NotFound(f"account {conversation.account_id} not found")
    try:
        message = await send(
            session,
            account=account,
            to_wxid=conversation.chat_wxid,
            content=content,
            sent_by="staff",
            sent_by_user_id=user.id,
            gateway=gateway,
            pacer=pacer,
            guard=SendGuard(lease_version=conversation.lease_version, holder="staff", holder_user_id=user.id),
            conversation_id=conversation.id,
        )
    except SendDropped as exc:
        raise Conflict(f"会话已被他人接管，消息未发送：{exc.reason}", code="lease_moved") from exc
    conversation.last_human_activity_at = utcnow()
    return message


async def add_note(session: AsyncSession, conversation: Conversation, *, user: User, text: str) -> NoteOut:
    """Add a staff note (audited)."""
    note = ConversationNote(
        organization_id=conversation.organization_id,
        conversation_id=conversation.id,
        author_user_id=user.id,
        text=text,
    )
    session.add(note)
    await session.flush()
    await audit.record(
        session,
        organization_id=conversation.organization_id,
        actor_id=user.id,
        action="conversation.note",
        target_type="conversation",
        target_id=str(conversation.id),
        detail={"note_id": str(note.id)},
    )
    return NoteOut(id=note.id, author_name=user.display_name or user.username, text=text, created_at=note.created_at)


async def set_tags(
    session: AsyncSession, conversation: Conversation, *, user: User, tags: list[str]
) -> ConversationOut:
    """Replace the customer's tags (audited); creates the contact row when the chat has none yet."""
    contact = await session.scalar(
        select(Contact).where(Contact.account_id == conversation.account_id, Contact.wxid == conversation.chat_wxid)
    )
    if contact is None:
        contact = Contact(
            organization_id=conversation.organization_id,
            account_id=conversation.account_id,
            wxid=conversation.chat_wxid,
            is_group=conversation.is_group,
        )
        session.add(contact)
    before = list(contact.tags or [])
    contact.tags, contact.updated_at = tags, utcnow()
    await session.flush()
    await audit.record(
        session,
        organization_id=conversation.organization_id,
        actor_id=user.id,
        action="contact.tags",
        target_type="contact",
        target_id=str(contact.id),
        detail={"before": before, "after": tags, "conversation_id": str(conversation.id)},
    )
    return await publish_updated(session, conversation)


async def mark_read(session: AsyncSession, conversation: Conversation) -> ConversationOut:
    """Zero the unread count."""
    conversation.unread_count = 0
    await session.flush()
    return await view(session, conversation)


async def staff_of(session: AsyncSession, *, organization_id: uuid.UUID) -> list[User]:
    """Active users who can hold conversations."""
    return list(
        await session.scalars(
            select(User)
            .where(User.organization_id == organization_id, User.is_active, User.role.in_(STAFF_ROLES))
            .order_by(User.display_name, User.username)
        )
    )


async def store_policy(
    session: AsyncSession, *, user: User, account_id: uuid.UUID | None, settings: dict[str, Any]
) -> None:
    """Validate and store the organisation's policy settings or an account's overrides (audited)."""
    base = (
        {}
        if account_id is None
        else await effective_settings(session, organization_id=user.organization_id, account_id=None)
    )
    try:
        Policy.model_validate(merge(base, settings))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise AppError(f"invalid policy settings: {problems}", status_code=422, code="invalid_policy") from exc
    before = await stored_settings(session, organization_id=user.organization_id, account_id=account_id)
    statement = (
        insert(ConversationPolicy)
        .values(organization_id=user.organization_id, account_id=account_id, settings=settings, id=uuid.uuid4())
        .on_conflict_do_update(
            index_elements=[ConversationPolicy.organization_id, ConversationPolicy.account_id],
            set_={"settings": settings, "updated_at": utcnow()},
        )
    )
    await session.execute(statement)
    await audit.record(
        session,
        organization_id=user.organization_id,
        actor_id=user.id,
        action="conversation.policy",
        target_type="account" if account_id else "organization",
        target_id=str(account_id or user.organization_id),
        detail={"before": before, "after": settings},
    )


# Periodic ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one janitor pass changed."""

    released: int
    escalated: int


async def sweep(session: AsyncSession, *, now: datetime | None = None) -> SweepResult:
    """Return quiet human conversations to the AI and escalate unanswered handoffs to managers."""
    now = now or utcnow()
    released = escalated = 0
    idle_candidates = list(
        await session.scalars(
            select(Conversation)
            .where(
                Conversation.mode == "human",
                Conversation.holder == "staff",
                Conversation.last_human_activity_at < now - timedelta(minutes=1),
            )
            .with_for_update(skip_locked=True)
            .limit(500)
        )
    )
    policies: dict[uuid.UUID, Policy] = {}
    for conversation in idle_candidates:
        policy = policies.get(conversation.account_id)
        if policy is None:
            policy = policies[conversation.account_id] = await effective_policy(
                session, organization_id=conversation.organization_id, account_id=conversation.account_id
            )
        idle_since = max(
            conversation.last_human_activity_at or now, conversation.mode_changed_at or conversation.created_at
        )
        if idle_since > now - timedelta(minutes=policy.idle_release_minutes):
            continue
        await _back_to_ai(
            session,
            conversation,
            reason=f"人工 {policy.idle_release_minutes:g} 分钟无回复，自动交还 AI",
            action="conversation.idle_release",
            now=now,
        )
        released += 1
    overdue = list(
        await session.scalars(
            select(Conversation)
            .where(
                Conversation.mode == "pending_human",
                Conversation.escalated_at.is_(None),
                Conversation.handoff_deadline < now,
            )
            .with_for_update(skip_locked=True)
            .limit(500)
        )
    )
    for conversation in overdue:
        conversation.escalated_at = now
        await session.flush()
        body = await view(session, conversation)
        await _notify(
            session,
            conversation,
            body,
            type="handoff.escalated",
            reason=f"转人工请求超时未接待：{conversation.mode_reason}",
            recipients=await _supervisors(session, conversation.organization_id),
        )
        HANDOFFS.labels("escalated").inc()
        escalated += 1
    return SweepResult(released, escalated)
