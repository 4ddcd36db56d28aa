"""Mock CRM routes (/mock/crm): coupon creation and publication, served when CRM_BASE_URL is unset."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from backend.core.db import BIGINT_MAX
from backend.core.deps import SessionDep, SettingsDep
from backend.core.errors import NotFound
from backend.crm import service
from backend.crm.schemas import CouponCreate, CouponCreated, CouponPublished


def _mock_enabled(request: Request, settings: SettingsDep) -> None:
    """The mock exists only while no real CRM is configured; it counts calls for tests and the console."""
    if settings.integrations.crm_base_url:
        raise NotFound("the mock CRM is disabled because CRM_BASE_URL is set")
    request.app.state.mock_crm_calls = getattr(request.app.state, "mock_crm_calls", 0) + 1


router = APIRouter(prefix="/mock/crm", tags=["mock-crm"], dependencies=[Depends(_mock_enabled)])


@router.post("/coupons", response_model=CouponCreated, status_code=status.HTTP_201_CREATED)
async def create_coupon(body: CouponCreate, session: SessionDep) -> CouponCreated:
    """Create a draft coupon."""
    coupon = await service.create_coupon(session, coupon=body)
    return CouponCreated(coupon_id=coupon.id, status=coupon.status)


@router.post("/coupons/{coupon_id}/publish", response_model=CouponPublished)
async def publish_coupon(coupon_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)], session: SessionDep) -> CouponPublished:
    """Publish a coupon."""
    coupon = await service.publish_coupon(session, coupon_id=coupon_id)
    return CouponPublished(coupon_id=coupon.id, status=coupon.status)
