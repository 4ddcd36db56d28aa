"""The mock CRM's coupon store (rows in retail.coupons)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.agent.models import Coupon
from backend.core.errors import NotFound
from backend.crm.schemas import CouponCreate


async def create_coupon(session: AsyncSession, *, coupon: CouponCreate) -> Coupon:
    """Store a draft coupon."""
    row = Coupon(**coupon.model_dump(), status="draft")
    session.add(row)
    await session.flush()
    return row


async def publish_coupon(session: AsyncSession, *, coupon_id: int) -> Coupon:
    """Mark a coupon published (publishing twice is harmless)."""
    row = await session.get(Coupon, coupon_id)
    if row is None:
        raise NotFound(f"coupon {coupon_id} not found")
    row.status = "published"
    await session.flush()
    return row
