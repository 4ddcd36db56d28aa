"""Payloads of the CRM coupon API (the mock speaks the same shapes as the client)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.agent.models import MONEY_MAX
from backend.core.db import INT_MAX
from backend.core.inputs import Instant, Text

CouponType = Literal["full_reduction", "discount", "points"]


class CouponCreate(BaseModel):
    """A coupon to create as a draft."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=120)
    type: CouponType
    threshold: Decimal = Field(ge=0, le=MONEY_MAX)
    value: Decimal = Field(gt=0, le=MONEY_MAX)
    max_redemptions: int = Field(ge=0, le=INT_MAX)
    start_at: Instant
    end_at: Instant


class CouponCreated(BaseModel):
    """Answer of coupon creation."""

    coupon_id: int
    status: str


class CouponPublished(BaseModel):
    """Answer of coupon publication."""

    coupon_id: int
    status: str
