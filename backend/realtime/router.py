"""Route: /api/events replays what a console missed while disconnected."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.core.db import BIGINT_MAX
from backend.core.deps import CurrentUser, SessionDep
from backend.realtime import service
from backend.realtime.schemas import EventPage

router = APIRouter(prefix="/api/events", tags=["realtime"])


@router.get("", response_model=EventPage)
async def events_since(
    user: CurrentUser,
    session: SessionDep,
    since: Annotated[int, Query(ge=0, le=BIGINT_MAX, description="Last seq the console has seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> EventPage:
    """Events of the caller's organisation after `since`, oldest first (others' private events redacted)."""
    return await service.events_since(
        session, organization_id=user.organization_id, user_id=user.id, since=since, limit=limit
    )
