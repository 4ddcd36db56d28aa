"""Publishing events: numbered and stored in the caller's transaction, pushed once it commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.organizations.models import Organization
from backend.realtime.models import RealtimeEvent
from backend.realtime.schemas import EventOut, EventPage

PENDING_KEY = "realtime.pending"


def org_room(organization_id: uuid.UUID) -> str:
    """Socket.IO room every console of an organisation joins."""
    return f"org:{organization_id}"


def account_room(account_id: uuid.UUID) -> str:
    """Socket.IO room of one WeChat account's events."""
    return f"account:{account_id}"


def conversation_room(conversation_id: uuid.UUID) -> str:
    """Socket.IO room of one conversation's events."""
    return f"conversation:{conversation_id}"


def user_room(user_id: uuid.UUID) -> str:
    """Socket.IO room of one console user (handoff requests addressed to them)."""
    return f"user:{user_id}"


async def publish(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    type: str,
    data: dict[str, Any],
    rooms: list[str] | None = None,
) -> RealtimeEvent:
    """Number and store an event; it is pushed to consoles after the transaction commits."""
    seq = await session.scalar(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(event_seq=Organization.event_seq + 1)
        .returning(Organization.event_seq)
    )
    if seq is None:
        raise ValueError(f"unknown organisation {organization_id}")
    event = RealtimeEvent(
        organization_id=organization_id,
        seq=seq,
        type=type,
        data=data,
        rooms=rooms or [org_room(organization_id)],
    )
    session.add(event)
    await session.flush()
    session.info.setdefault(PENDING_KEY, []).append(event)
    return event


def take_pending(session: AsyncSession) -> list[RealtimeEvent]:
    """Events published in the session's committed transaction, removed from the session."""
    pending: list[RealtimeEvent] = session.info.pop(PENDING_KEY, [])
    return pending


def envelope(event: RealtimeEvent) -> dict[str, Any]:
    """The JSON-ready `{seq, type, at, data}` envelope of a stored event."""
    return EventOut(seq=event.seq, type=event.type, at=event.created_at, data=event.data).model_dump(mode="json")


async def events_since(session: AsyncSession, *, organization_id: uuid.UUID, since: int, limit: int) -> EventPage:
    """Events of one organisation with seq greater than `since`, oldest first."""
    rows = (
        await session.scalars(
            select(RealtimeEvent)
            .where(RealtimeEvent.organization_id == organization_id, RealtimeEvent.seq > since)
            .order_by(RealtimeEvent.seq)
            .limit(limit + 1)
        )
    ).all()
    items = [EventOut(seq=r.seq, type=r.type, at=r.created_at, data=r.data) for r in rows[:limit]]
    return EventPage(items=items, last_seq=items[-1].seq if items else since, has_more=len(rows) > limit)


async def current_seq(session: AsyncSession, *, organization_id: uuid.UUID) -> int:
    """The organisation's latest event sequence number."""
    return int(await session.scalar(select(Organization.event_seq).where(Organization.id == organization_id)) or 0)
