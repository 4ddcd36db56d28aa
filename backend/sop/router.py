"""SOP API for managers: definitions, control, preview, targets, progress and deliveries."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from backend.conversations.deps import ManagerUser
from backend.core.db import BIGINT_MAX, utcnow
from backend.core.deps import SessionDep, get_in_org
from backend.core.inputs import Text
from backend.sop import service
from backend.sop.models import Sop
from backend.sop.runtime import sop_lifespan
from backend.sop.schemas import (
    DeliveryPage,
    DeliveryStatus,
    PreviewOut,
    Retried,
    SopIn,
    SopOut,
    TargetCount,
    TargetPage,
    TargetPreview,
    TargetSpec,
)
from bots.pacer import PacingPolicy

router = APIRouter(prefix="/api/sops", tags=["sop"], lifespan=sop_lifespan)
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=BIGINT_MAX)]
Search = Annotated[Text | None, Query(max_length=100)]


def _horizon(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.settings.sop.horizon_hours)


def _default_policy(request: Request) -> PacingPolicy:
    pacer = getattr(request.app.state, "pacer", None)
    return pacer.default_policy if pacer is not None else PacingPolicy()


@router.get("", response_model=list[SopOut])
async def list_sops(user: ManagerUser, session: SessionDep) -> list[SopOut]:
    """The organisation's SOPs with progress, newest first."""
    return await service.list_sops(session, user=user)


@router.post("", response_model=SopOut, status_code=status.HTTP_201_CREATED)
async def create_sop(body: SopIn, user: ManagerUser, session: SessionDep) -> SopOut:
    """Create a SOP as a draft."""
    return await service.view(session, await service.create_sop(session, user=user, body=body))


@router.post("/target-count", response_model=TargetCount)
async def count_targets(body: TargetSpec, user: ManagerUser, session: SessionDep) -> TargetCount:
    """How many friends and groups a target spec matches now (the editor's live count)."""
    return await service.count_targets(session, user=user, spec=body)


@router.get("/{sop_id}", response_model=SopOut)
async def read_sop(sop_id: uuid.UUID, user: ManagerUser, session: SessionDep) -> SopOut:
    """One SOP with steps and progress."""
    return await service.view(session, await get_in_org(session, Sop, sop_id, user))


@router.put("/{sop_id}", response_model=SopOut)
async def update_sop(sop_id: uuid.UUID, body: SopIn, user: ManagerUser, session: SessionDep) -> SopOut:
    """Replace a SOP's definition (not while it runs)."""
    return await service.view(session, await service.update_sop(session, user=user, sop_id=sop_id, body=body))


@router.delete("/{sop_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_sop(sop_id: uuid.UUID, user: ManagerUser, session: SessionDep) -> Response:
    """Delete a SOP that is not running."""
    await service.delete_sop(session, user=user, sop_id=sop_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{sop_id}/start", response_model=SopOut)
async def start_sop(sop_id: uuid.UUID, request: Request, user: ManagerUser, session: SessionDep) -> SopOut:
    """Start a draft: its targets are resolved and its deliveries planned at once."""
    await service.start_sop(session, user=user, sop_id=sop_id, now=utcnow(), horizon=_horizon(request))
    return await service.view(session, await get_in_org(session, Sop, sop_id, user))


@router.post("/{sop_id}/pause", response_model=SopOut)
async def pause_sop(sop_id: uuid.UUID, user: ManagerUser, session: SessionDep) -> SopOut:
    """Pause: sends under way finish, nothing new starts."""
    return await service.view(session, await service.pause_sop(session, user=user, sop_id=sop_id, now=utcnow()))


@router.post("/{sop_id}/resume", response_model=SopOut)
async def resume_sop(sop_id: uuid.UUID, user: ManagerUser, session: SessionDep) -> SopOut:
    """Resume a paused SOP."""
    return await service.view(session, await service.resume_sop(session, user=user, sop_id=sop_id, now=utcnow()))


@router.post("/{sop_id}/cancel", response_model=SopOut)
async def cancel_sop(sop_id: uuid.UUID, user: ManagerUser, session: SessionDep) -> SopOut:
    """Cancel: what has not started is cancelled."""
    return await service.view(session, await service.cancel_sop(session, user=user, sop_id=sop_id, now=utcnow()))


@router.get("/{sop_id}/preview", response_model=PreviewOut)
async def preview(sop_id: uuid.UUID, request: Request, user: ManagerUser, session: SessionDep) -> PreviewOut:
    """Targets and messages per account, estimated duration under pacing, daily-cap impact, warnings, samples."""
    return await service.preview(
        session, user=user, sop_id=sop_id, now=utcnow(), default_policy=_default_policy(request)
    )


@router.get("/{sop_id}/targets", response_model=TargetPage)
async def list_targets(
    sop_id: uuid.UUID,
    user: ManagerUser,
    session: SessionDep,
    account_id: uuid.UUID | None = None,
    q: Search = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> TargetPage:
    """The SOP's targets (resolved once started; matching now while a draft)."""
    return await service.list_targets(
        session, user=user, sop_id=sop_id, account_id=account_id, q=q, limit=limit, offset=offset
    )


@router.get("/{sop_id}/targets/{contact_id}/preview", response_model=TargetPreview)
async def preview_target(
    sop_id: uuid.UUID, contact_id: uuid.UUID, user: ManagerUser, session: SessionDep
) -> TargetPreview:
    """Every step rendered for one target."""
    return await service.preview_target(session, user=user, sop_id=sop_id, contact_id=contact_id, now=utcnow())


@router.get("/{sop_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    sop_id: uuid.UUID,
    user: ManagerUser,
    session: SessionDep,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    account_id: uuid.UUID | None = None,
    step_id: uuid.UUID | None = None,
    q: Search = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeliveryPage:
    """Deliveries with status, GeWe ids and on-time/late flags; status=dead is the dead-letter list."""
    return await service.list_deliveries(
        session,
        user=user,
        sop_id=sop_id,
        status=status_,
        account_id=account_id,
        step_id=step_id,
        q=q,
        limit=limit,
        offset=offset,
    )


@router.post("/{sop_id}/deliveries/{delivery_id}/retry", response_model=Retried)
async def retry_delivery(
    sop_id: uuid.UUID,
    delivery_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)],
    user: ManagerUser,
    session: SessionDep,
) -> Retried:
    """Queue one dead delivery again."""
    retried = await service.retry_dead(session, user=user, sop_id=sop_id, delivery_id=delivery_id, now=utcnow())
    return Retried(retried=retried)


@router.post("/{sop_id}/dead-letters/retry", response_model=Retried)
async def retry_dead_letters(sop_id: uuid.UUID, user: ManagerUser, session: SessionDep) -> Retried:
    """Queue every dead delivery of the SOP again."""
    retried = await service.retry_dead(session, user=user, sop_id=sop_id, delivery_id=None, now=utcnow())
    return Retried(retried=retried)
