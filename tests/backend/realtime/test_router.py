"""GET /api/events: replay after a reconnect, with the sequence number bounded like the column it is compared to."""

from __future__ import annotations

import httpx

from backend.auth.models import Role


async def test_since_beyond_bigint_is_422_at_the_edge(client: httpx.AsyncClient, login) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: asyncpg refused 2**63 for the BIGINT seq (the generic 422).
    sales = await login(Role.sales)
    response = await client.get("/api/events", params={"since": 2**63}, headers=sales.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["message"].startswith("since:")


async def test_since_at_the_largest_bigint_answers_an_empty_page(client: httpx.AsyncClient, login) -> None:
    sales = await login(Role.sales)
    response = await client.get("/api/events", params={"since": 2**63 - 1}, headers=sales.headers)
    assert response.status_code == 200
    assert response.json()["items"] == []
