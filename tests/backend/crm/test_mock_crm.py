"""Mock CRM routes: coupons are created as drafts and published; unknown coupons are 404."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from backend.crm.auth import crm_api_key

COUPON = {
    "name": "满100减12",
    "type": "full_reduction",
    "threshold": "100",
    "value": "12",
    "max_redemptions": 500,
    "start_at": "2026-11-22T00:00:00+08:00",
    "end_at": "2026-11-29T00:00:00+08:00",
}


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app that sends the mock CRM's API key, as the app's own CRM client does."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {crm_api_key(app.other_asgi_app)}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
        yield http


@pytest.fixture
async def no_coupons_left(db) -> AsyncIterator[None]:
    yield
    async with db.engine.begin() as conn:
        await conn.execute(text("TRUNCATE retail.coupons RESTART IDENTITY"))


async def test_coupon_is_created_as_draft_then_published(client: httpx.AsyncClient, no_coupons_left) -> None:
    created = await client.post("/mock/crm/coupons", json=COUPON)
    assert created.status_code == 201
    assert created.json()["status"] == "draft"
    coupon_id = created.json()["coupon_id"]
    published = await client.post(f"/mock/crm/coupons/{coupon_id}/publish")
    assert published.json() == {"coupon_id": coupon_id, "status": "published"}


async def test_publishing_an_unknown_coupon_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/mock/crm/coupons/999999/publish")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_coupon_without_value_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/mock/crm/coupons", json={**COUPON, "value": "0"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "field",
    [{"threshold": "10000000000"}, {"value": "99999999999.99"}, {"max_redemptions": 2**31}],
    ids=["threshold", "value", "max_redemptions"],
)
async def test_coupon_amounts_and_counts_beyond_their_columns_are_422(
    client: httpx.AsyncClient, field: dict[str, str | int]
) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: the INSERT overflowed NUMERIC(12,2)/INTEGER and answered 503.
    response = await client.post("/mock/crm/coupons", json={**COUPON, **field})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert next(iter(field)) in response.json()["error"]["message"]


async def test_publishing_a_coupon_id_beyond_bigint_is_422(client: httpx.AsyncClient) -> None:
    # Found by the OpenAPI fuzz: asyncpg could not bind the id (value out of int64 range) and the answer was 503.
    response = await client.post(f"/mock/crm/coupons/{2**70}/publish")
    assert response.status_code == 422
    assert "coupon_id" in response.json()["error"]["message"]
