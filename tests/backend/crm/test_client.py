"""CRM client: failures become CrmError with the status and path."""

from __future__ import annotations

import httpx
import pytest

from backend.crm.client import CrmClient, CrmError
from backend.crm.schemas import CouponCreate

COUPON = CouponCreate.model_validate(
    {
        "name": "x",
        "type": "discount",
        "threshold": 0,
        "value": 9,
        "max_redemptions": 1,
        "start_at": "2026-11-22T00:00:00Z",
        "end_at": "2026-11-23T00:00:00Z",
    }
)


async def test_error_status_becomes_crm_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503, text="down"))
    async with CrmClient("http://crm.test", transport=transport) as crm:
        with pytest.raises(CrmError, match="503 at /mock/crm/coupons"):
            await crm.create_coupon(COUPON, idempotency_key="k")


async def test_idempotency_key_is_sent_with_each_call() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        return httpx.Response(201, json={"coupon_id": 7, "status": "draft"})

    async with CrmClient("http://crm.test", transport=httpx.MockTransport(answer)) as crm:
        created = await crm.create_coupon(COUPON, idempotency_key="abc")
    assert (created.coupon_id, seen) == (7, ["abc"])
