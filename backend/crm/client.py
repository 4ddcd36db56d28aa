"""Async CRM client (httpx): the real CRM at CRM_BASE_URL, or the in-app mock called in-process."""

from __future__ import annotations

from typing import Any

import httpx

from backend.crm.schemas import CouponCreate, CouponCreated, CouponPublished


class CrmError(RuntimeError):
    """The CRM failed or answered something unexpected."""


class CrmClient:
    """Creates and publishes coupons; each call carries the action's idempotency key."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0):
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> CrmClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def create_coupon(self, coupon: CouponCreate, *, idempotency_key: str) -> CouponCreated:
        """POST /mock/crm/coupons (or the real CRM's equivalent path)."""
        body = await self._post("/mock/crm/coupons", coupon.model_dump(mode="json"), idempotency_key)
        return CouponCreated.model_validate(body)

    async def publish_coupon(self, coupon_id: int, *, idempotency_key: str) -> CouponPublished:
        """POST /mock/crm/coupons/{id}/publish."""
        body = await self._post(f"/mock/crm/coupons/{coupon_id}/publish", {}, idempotency_key)
        return CouponPublished.model_validate(body)

    async def _post(self, path: str, payload: dict[str, Any], idempotency_key: str) -> Any:
        try:
            response = await self._http.post(path, json=payload, headers={"Idempotency-Key": idempotency_key})
        except httpx.HTTPError as exc:
            raise CrmError(f"CRM unreachable at {path}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise CrmError(f"CRM answered {response.status_code} at {path}: {response.text[:300]}")
        return response.json()
