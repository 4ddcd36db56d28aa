"""Writing audit events, and reading an organisation's audit log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit.models import AuditEvent
from backend.audit.schemas import AuditEventOut, AuditPage
from backend.auth.models import User


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`{"before": ..., "after": ...}` holding only the keys whose value changed."""
    changed = [key for key in after if before.get(key) != after[key]]
    return {"before": {key: before.get(key) for key in changed}, "after": {key: after[key] for key in changed}}


async def record(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: str,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to the caller's transaction."""
    event = AuditEvent(
        organization_id=organization_id,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail or {},
    )
    session.add(event)
    await session.flush()
    return event


@dataclass(frozen=True)
class AuditFilter:
    """Which events to list: exact action, actor, target type and id, time range [since, until)."""

    action: str | None = None
    actor_id: uuid.UUID | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self, organization_id: uuid.UUID) -> list[ColumnElement[bool]]:
        """WHERE conditions: the organisation's events matching these filters."""
        conditions = [AuditEvent.organization_id == organization_id]
        for column, value in (
            (AuditEvent.action, self.action),
            (AuditEvent.actor_id, self.actor_id),
            (AuditEvent.target_type, self.target_type),
            (AuditEvent.target_id, self.target_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if self.since is not None:
            conditions.append(AuditEvent.created_at >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.created_at < self.until)
        return conditions


async def list_events(
    session: AsyncSession, *, organization_id: uuid.UUID, filters: AuditFilter, limit: int, offset: int
) -> AuditPage:
    """The organisation's audit events matching the filters, newest first, one page, with the total."""
    conditions = filters.conditions(organization_id)
    total = await session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    actor_name = func.coalesce(func.nullif(User.display_name, ""), User.username)
    rows = await session.execute(
        select(AuditEvent, actor_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(*conditions)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [
        AuditEventOut(
            id=event.id,
            created_at=event.created_at,
            actor_id=event.actor_id,
            actor_name=name,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            detail=event.detail,
        )
        for event, name in rows
    ]
    return AuditPage(items=items, total=int(total))


async def list_actions(session: AsyncSession, *, organization_id: uuid.UUID) -> list[str]:
    """The actions the organisation's audit log holds, for the console's filter."""
    rows = await session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.organization_id == organization_id)
        .distinct()
        .order_by(AuditEvent.action)
    )
    return list(rows)
