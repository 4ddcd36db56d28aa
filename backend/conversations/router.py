"""Workbench API: list and read conversations, take over, release, transfer, send, notes, tags, policy."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, status

from backend.accounts.deps import GatewayDep
from backend.accounts.models import Account
from backend.conversations import service
from backend.conversations.deps import ManagerUser, StaffUser
from backend.conversations.policy import Policy, effective_settings, stored_settings
from backend.conversations.schemas import (
    ConversationDetail,
    ConversationOut,
    ConversationPage,
    DecisionOut,
    Filter,
    MessagePage,
    MessageWithDecision,
    NoteIn,
    NoteOut,
    OutgoingIn,
    PolicyIn,
    ReasonIn,
    StaffOut,
    TagsIn,
    TransferIn,
)
from backend.core.db import BIGINT_MAX
from backend.core.deps import SessionDep, get_in_org
from backend.messages.service import Outgoing

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.get("", response_model=ConversationPage)
async def list_conversations(
    user: StaffUser,
    session: SessionDep,
    filter: Filter = "all",
    account_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationPage:
    """The organisation's conversations, most recent first, filtered for the workbench tabs."""
    items = await service.list_conversations(session, user=user, filter=filter, account_id=account_id, limit=limit)
    return ConversationPage(items=items)


@router.get("/staff", response_model=list[StaffOut])
async def list_staff(user: StaffUser, session: SessionDep) -> list[StaffOut]:
    """Who a conversation can be transferred to."""
    rows = await service.staff_of(session, organization_id=user.organization_id)
    return [StaffOut(id=u.id, display_name=u.display_name or u.username, role=u.role) for u in rows]


@router.get("/policy", response_model=dict[str, Any])
async def read_policy(user: ManagerUser, session: SessionDep, account_id: uuid.UUID | None = None) -> dict[str, Any]:
    """The stored settings (organisation, or one account's overrides) and the effective policy."""
    if account_id is not None:
        await get_in_org(session, Account, account_id, user)
    stored = await stored_settings(session, organization_id=user.organization_id, account_id=account_id)
    effective = await effective_settings(session, organization_id=user.organization_id, account_id=account_id)
    return {"settings": stored, "effective": Policy.model_validate(effective).model_dump(mode="json")}


@router.put("/policy", response_model=dict[str, Any])
async def write_policy(
    body: PolicyIn, user: ManagerUser, session: SessionDep, account_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """Store the organisation's settings or one account's overrides (validated; unknown keys refused)."""
    if account_id is not None:
        await get_in_org(session, Account, account_id, user)
    await service.store_policy(session, user=user, account_id=account_id, settings=body.settings)
    return await read_policy(user, session, account_id)


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def read_conversation(conversation_id: uuid.UUID, user: StaffUser, session: SessionDep) -> ConversationDetail:
    """One conversation with its notes."""
    conversation = await service.get_conversation(session, user=user, conversation_id=conversation_id)
    body = await service.view(session, conversation)
    notes = await service.notes_of(session, conversation_id=conversation.id)
    return ConversationDetail(**body.model_dump(), notes=notes)


@router.get("/{conversation_id}/messages", response_model=MessagePage)
async def read_messages(
    conversation_id: uuid.UUID,
    user: StaffUser,
    session: SessionDep,
    before_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    """Messages oldest first (pages go back with `before_id`), AI ones linked to their decision record."""
    conversation = await service.get_conversation(session, user=user, conversation_id=conversation_id)
    return await service.message_page(session, conversation=conversation, before_id=before_id, limit=limit)


@router.get("/{conversation_id}/decisions/{decision_id}", response_model=DecisionOut)
async def read_decision(
    conversation_id: uuid.UUID,
    decision_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)],
    user: StaffUser,
    session: SessionDep,
) -> DecisionOut:
    """The AI's "why" behind one reply."""
    conversation = await service.get_conversation(session, user=user, conversation_id=conversation_id)
    decision = await service.decision_of(session, conversation=conversation, decision_id=decision_id)
    return DecisionOut.model_validate(decision)


@router.post("/{conversation_id}/read", response_model=ConversationOut)
async def mark_read(conversation_id: uuid.UUID, user: StaffUser, session: SessionDep) -> ConversationOut:
    """Zero the unread count."""
    conversation = await service.locked_in_org(session, user=user, conversation_id=conversation_id)
    return await service.mark_read(session, conversation)


@router.post("/{conversation_id}/takeover", response_model=ConversationOut)
async def take_over(
    conversation_id: uuid.UUID, body: ReasonIn, user: StaffUser, session: SessionDep
) -> ConversationOut:
    """Hold the conversation as a person; an AI reply being written is dropped."""
    conversation = await service.locked_in_org(session, user=user, conversation_id=conversation_id)
    return await service.take_over(session, conversation, user=user, reason=body.reason)


@router.post("/{conversation_id}/release", response_model=ConversationOut)
async def release(conversation_id: uuid.UUID, body: ReasonIn, user: StaffUser, session: SessionDep) -> ConversationOut:
    """Give the conversation back to the AI."""
    conversation = await service.locked_in_org(session, user=user, conversation_id=conversation_id)
    return await service.release(session, conversation, user=user, reason=body.reason)


@router.post("/{conversation_id}/transfer", response_model=ConversationOut)
async def transfer(
    conversation_id: uuid.UUID, body: TransferIn, user: StaffUser, session: SessionDep
) -> ConversationOut:
    """Hand the conversation to another staff member."""
    conversation = await service.locked_in_org(session, user=user, conversation_id=conversation_id)
    return await service.transfer(session, conversation, user=user, to_user_id=body.user_id, reason=body.reason)


@router.post("/{conversation_id}/resolve", response_model=ConversationOut)
async def resolve(conversation_id: uuid.UUID, user: StaffUser, session: SessionDep) -> ConversationOut:
    """Mark the conversation resolved (closed)."""
    conversation = await service.locked_in_org(session, user=user, conversation_id=conversation_id)
    return await service.resolve(session, conversation, user=user)


@router.post("/{conversation_id}/messages", response_model=MessageWithDecision, status_code=status.HTTP_201_CREATED)
async def send_as_person(
    conversation_id: uuid.UUID,
    body: OutgoingIn,
    request: Request,
    user: StaffUser,
    session: SessionDep,
    gateway: GatewayDep,
) -> MessageWithDecision:
    """Send as a person; takes the conversation over first when the AI (or nobody) holds it."""
    content = Outgoing(
        kind=body.kind,
        text=body.text,
        image_url=str(body.image_url or ""),
        title=body.title,
        description=body.description,
        url=str(body.url or ""),
        thumb_url=str(body.thumb_url or ""),
    )
    message = await service.send_as_person(
        session,
        user=user,
        conversation_id=conversation_id,
        content=content,
        gateway=gateway,
        pacer=request.app.state.pacer,
    )
    return MessageWithDecision.model_validate(message)


@router.post("/{conversation_id}/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED)
async def add_note(conversation_id: uuid.UUID, body: NoteIn, user: StaffUser, session: SessionDep) -> NoteOut:
    """Leave a note for colleagues (never sent to the customer)."""
    conversation = await service.get_conversation(session, user=user, conversation_id=conversation_id)
    return await service.add_note(session, conversation, user=user, text=body.text)


@router.put("/{conversation_id}/tags", response_model=ConversationOut)
async def set_tags(conversation_id: uuid.UUID, body: TagsIn, user: StaffUser, session: SessionDep) -> ConversationOut:
    """Replace the customer's tags."""
    conversation = await service.get_conversation(session, user=user, conversation_id=conversation_id)
    return await service.set_tags(session, conversation, user=user, tags=body.tags)
