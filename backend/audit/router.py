"""Route: /api/audit, the organisation's audit log (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from backend.audit import service
from backend.audit.schemas import AuditPage
from backend.core.db import BIGINT_MAX
from backend.core.deps import AdminUser, SessionDep
from backend.core.inputs import Instant, Text

router = APIRouter(prefix="/api/audit", tags=["audit"])
Name = Annotated[Text | None, Query(max_length=64)]


@router.get("", response_model=AuditPage)
async def list_audit_events(
    admin: AdminUser,
    session: SessionDep,
    action: Name = None,
    actor_id: uuid.UUID | None = None,
    target_type: Name = None,
    target_id: Name = None,
    since: Annotated[Instant | None, Query(description="Instant, inclusive.")] = None,
    until: Annotated[Instant | None, Query(description="Instant, exclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
) -> AuditPage:
    """Audit events of the admin's organisation, newest first, filtered, a page at a time."""
    filters = service.AuditFilter(action, actor_id, target_type, target_id, since, until)
    return await service.list_events(
        session, organization_id=admin.organization_id, filters=filters, limit=limit, offset=offset
    )


@router.get("/actions", response_model=list[str])
async def list_audit_actions(admin: AdminUser, session: SessionDep) -> list[str]:
    """The actions present in the organisation's audit log (values for the `action` filter)."""
    return await service.list_actions(session, organization_id=admin.organization_id)
