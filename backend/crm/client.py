"""Async CRM client (httpx): the real CRM at CRM_BASE_URL, or the in-app mock called in-process."""

from __future__ import annotations

from typing import Any

import httpx

from backend.crm.schemas import CouponCreate, CouponCreated, CouponPublished


class CrmError(RuntimeError):
    """The CRM failed or answered something unexpected."""


class CrmClient:
    """Creates and publishes coupons; each call carries the action's idempotency key and the CRM API key.

    `api_key` goes out as `Authorization: Bearer <key>`. With `require_api_key` and no key, every call
    fails with CrmError before anything is sent (a real CRM is never called without credentials).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        require_api_key: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ):
        self._api_key = api_key or None
        self._require_api_key = require_api_key
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
        headers = {"Idempotency-Key": idempotency_key}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        elif self._require_api_key:
            raise CrmError(f"no CRM API key configured (set CRM_API_KEY): not calling the CRM at {path}")
        try:
            response = await self._http.post(path, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise CrmError(f"CRM unreachable at {path}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise CrmError(f"CRM answered {response.status_code} at {path}: {response.text[:300]}")
        return response.json()
