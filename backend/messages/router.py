"""Message search across the organisation's conversations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from backend.conversations.deps import StaffUser
from backend.conversations.schemas import SearchHit, SearchPage
from backend.core.deps import SessionDep
from backend.core.inputs import Instant, Text
from backend.messages.schemas import MessageOut
from backend.messages.search import search_messages

router = APIRouter(prefix="/api/messages", tags=["messages"])


@router.get("/search", response_model=SearchPage)
async def search(
    user: StaffUser,
    session: SessionDep,
    q: Annotated[Text, Query(min_length=1, max_length=100)],
    account_id: uuid.UUID | None = None,
    contact_wxid: Annotated[Text | None, Query(max_length=128)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SearchPage:
    """Messages containing `q` (substring, Chinese included), newest first."""
    rows = await search_messages(
        session,
        organization_id=user.organization_id,
        query=q,
        account_id=account_id,
        contact_wxid=contact_wxid,
        since=since,
        until=until,
        limit=limit,
    )
    return SearchPage(
        items=[
            SearchHit(**MessageOut.model_validate(message).model_dump(), conversation_title=title)
            for message, title in rows
        ]
    )
