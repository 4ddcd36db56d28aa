"""Events are numbered at commit: in commit order, and not at all when the transaction rolls back."""

from __future__ import annotations

from sqlalchemy import select

from backend.core.db import Database
from backend.realtime.models import RealtimeEvent
from backend.realtime.service import publish, take_pending


async def _stored(db: Database, organization_id) -> list[tuple[int, str]]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(RealtimeEvent.seq, RealtimeEvent.type)
            .where(RealtimeEvent.organization_id == organization_id)
            .order_by(RealtimeEvent.seq)
        )
        return [tuple(row) for row in rows]


async def test_events_are_numbered_in_commit_order_not_publish_order(db: Database, make_org) -> None:
    organization = await make_org()
    async with db.sessionmaker() as first, db.sessionmaker() as second:
        publish(first, organization_id=organization.id, type="first.published", data={})
        await first.flush()
        publish(second, organization_id=organization.id, type="second.published", data={})
        await second.commit()
        await first.commit()
    assert await _stored(db, organization.id) == [(1, "second.published"), (2, "first.published")]


async def test_a_rolled_back_transaction_neither_stores_nor_pushes_its_events(db: Database, make_org) -> None:
    organization = await make_org()
    async with db.sessionmaker() as session:
        publish(session, organization_id=organization.id, type="lost", data={})
        await session.rollback()
        publish(session, organization_id=organization.id, type="kept", data={})
        await session.commit()
        pushed = [event.type for event in take_pending(session)]
    assert pushed == ["kept"]
    assert await _stored(db, organization.id) == [(1, "kept")]
