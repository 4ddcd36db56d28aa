"""Every error reaches the client as {"error": {"code", "message"}}."""

from __future__ import annotations

import httpx


async def test_unknown_api_route_is_404_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_malformed_json_is_422_with_a_reason(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_bad_path_parameter_is_422(client: httpx.AsyncClient, login) -> None:
    from backend.auth.models import Role

    admin = await login(Role.admin)
    response = await client.get("/api/users/not-a-uuid", headers=admin.headers)
    assert response.status_code == 422
    assert "user_id" in response.json()["error"]["message"]
