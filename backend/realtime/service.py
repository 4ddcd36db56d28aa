"""Publishing events: numbered and stored in the caller's transaction, pushed once it commits."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, select, text
from sqlalchemy.event import listens_for
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from backend.core.db import utcnow
from backend.organizations.models import Organization
from backend.realtime.models import RealtimeEvent
from backend.realtime.schemas import EventOut, EventPage

PENDING_KEY = "realtime.pending"
UNNUMBERED_KEY = "realtime.unnumbered"


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


@dataclass(slots=True)
class PublishedEvent:
    """An event published in a transaction; numbered (`seq`, `at`) and stored when it commits."""

    organization_id: uuid.UUID
    type: str
    data: dict[str, Any]
    rooms: list[str]
    seq: int = 0
    at: datetime = field(default_factory=utcnow)


def publish(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    type: str,
    data: dict[str, Any],
    rooms: list[str] | None = None,
) -> PublishedEvent:
    """Queue an event in the session; it is numbered and stored at commit, then pushed to consoles."""
    event = PublishedEvent(organization_id, type, data, rooms or [org_room(organization_id)])
    if not session.in_transaction():
        session.sync_session.begin()  # no I/O: a rollback before any statement then has a transaction to discard
    session.info.setdefault(UNNUMBERED_KEY, []).append(event)
    return event


# Advances an organisation's counter by the number of events and stores them under the new numbers, in one
# statement whatever their number; returns the first number (no row: no such organisation).
STORE_EVENTS = text(
    "with counter as (update organizations set event_seq = event_seq + :count "
    "where id = cast(:organization_id as uuid) returning id, event_seq - :count as before), "
    "stored as (insert into realtime_events (organization_id, seq, type, rooms, data, created_at) "
    "select counter.id, counter.before + v.position, v.type, cast(v.rooms as jsonb), cast(v.data as jsonb), "
    "cast(:at as timestamptz) "
    "from counter, unnest(cast(:types as text[]), cast(:rooms as text[]), cast(:data as text[])) "
    "with ordinality as v(type, rooms, data, position)) "
    "select before + 1 from counter"
)


@listens_for(Session, "before_commit")
def _number_events(session: Session) -> None:
    """Number the transaction's events per organisation and store them, as late as possible.

    The organisation row stays locked from this UPDATE to the commit, so events are numbered in commit
    order and the lock is held for the last statements only (not for the whole transaction).
    """
    events: list[PublishedEvent] = session.info.pop(UNNUMBERED_KEY, [])
    by_organization: dict[uuid.UUID, list[PublishedEvent]] = {}
    for event in events:
        by_organization.setdefault(event.organization_id, []).append(event)
    at = utcnow()
    for organization_id in sorted(by_organization):  # one lock order everywhere: no deadlocks between organisations
        batch = by_organization[organization_id]
        first = session.scalar(
            STORE_EVENTS,
            {
                "organization_id": organization_id,
                "at": at,
                "count": len(batch),
                "types": [event.type for event in batch],
                "rooms": [json.dumps(event.rooms) for event in batch],
                "data": [json.dumps(event.data) for event in batch],
            },
        )
        if first is None:
            raise ValueError(f"unknown organisation {organization_id}")
        for offset, event in enumerate(batch):
            event.seq, event.at = first + offset, at
    if events:
        session.info.setdefault(PENDING_KEY, []).extend(events)


@listens_for(Session, "after_soft_rollback")
def _forget_events(session: Session, previous_transaction: SessionTransaction) -> None:
    """Events of a rolled-back transaction are neither stored nor pushed (a savepoint's rollback keeps them)."""
    if previous_transaction.parent is None:
        session.info.pop(UNNUMBERED_KEY, None)
        session.info.pop(PENDING_KEY, None)


def take_pending(session: AsyncSession) -> list[PublishedEvent]:
    """Events published in the session's committed transaction, removed from the session."""
    pending: list[PublishedEvent] = session.info.pop(PENDING_KEY, [])
    return pending


def envelope(event: PublishedEvent) -> dict[str, Any]:
    """The JSON-ready `{seq, type, at, data}` envelope of a committed event, as EventOut would dump it."""
    # Built by hand: this runs for every event pushed, and `data` is JSON-ready already (it was stored as JSON).
    return {"seq": event.seq, "type": event.type, "at": event.at.isoformat().replace("+00:00", "Z"), "data": event.data}


REDACTED = "redacted"
# Rooms any member of the organisation may join (subscribe checks the organisation only).
SHARED_ROOM_PREFIXES = ("account:", "conversation:")


def visible_to(rooms: list[str], *, organization_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether a user's socket could have received an event sent to these rooms."""
    own = (org_room(organization_id), user_room(user_id))
    return any(room in own or room.startswith(SHARED_ROOM_PREFIXES) for room in rooms)


async def events_since(
    session: AsyncSession, *, organization_id: uuid.UUID, user_id: uuid.UUID, since: int, limit: int
) -> EventPage:
    """Events of one organisation with seq greater than `since`, oldest first, as one user may see them.

    An event sent only to other users' rooms (a handoff offered to a colleague) comes back as a `redacted`
    placeholder without data, so the console still sees an unbroken sequence and knows nothing was lost.
    """
    rows = (
        await session.scalars(
            select(RealtimeEvent)
            .where(RealtimeEvent.organization_id == organization_id, RealtimeEvent.seq > since)
            .order_by(RealtimeEvent.seq)
            .limit(limit + 1)
        )
    ).all()
    items = [
        EventOut(seq=r.seq, type=r.type, at=r.created_at, data=r.data)
        if visible_to(r.rooms, organization_id=organization_id, user_id=user_id)
        else EventOut(seq=r.seq, type=REDACTED, at=r.created_at, data={})
        for r in rows[:limit]
    ]
    return EventPage(items=items, last_seq=items[-1].seq if items else since, has_more=len(rows) > limit)


async def current_seq(session: AsyncSession, *, organization_id: uuid.UUID) -> int:
    """The organisation's latest event sequence number."""
    return int(await session.scalar(select(Organization.event_seq).where(Organization.id == organization_id)) or 0)


async def prune_events(session: AsyncSession, *, created_before: datetime, limit: int) -> int:
    """Delete up to `limit` events created before the cutoff; returns how many.

    A console asking to replay from before the cutoff sees a gap in `seq` and reloads instead.
    """
    old = select(RealtimeEvent.id).where(RealtimeEvent.created_at < created_before).limit(limit)
    result = await session.execute(delete(RealtimeEvent).where(RealtimeEvent.id.in_(old.scalar_subquery())))
    return int(cast(Any, result).rowcount)
