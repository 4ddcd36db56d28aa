"""Every error reaches the client as {"error": {"code", "message"}}."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError


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


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _app_raising(error: Exception) -> httpx.AsyncClient:
    from fastapi import FastAPI

    from backend.core.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.parametrize(
    ("sqlstate", "driver_message", "message"),
    [
        ("22021", 'invalid byte sequence for encoding "UTF8": 0x00', "text must not contain NUL (\\u0000) characters"),
        ("22P05", "unsupported Unicode escape sequence", "text must not contain NUL (\\u0000) characters"),
        ("22003", "numeric field overflow", "a number or date in the request is out of the supported range"),
        (
            "22000",
            "invalid input for query argument $1: 1e30 (value out of int64 range)",
            "a number or date in the request is out of the supported range",
        ),
    ],
)
async def test_a_value_the_database_refuses_is_422_not_retry_later(
    sqlstate: str, driver_message: str, message: str
) -> None:
    # The OpenAPI fuzz found NUL characters and huge numbers answered with 503 "retry shortly", which can never help.
    error = DBAPIError("SELECT 1", None, _DriverError(driver_message, sqlstate))
    async with _app_raising(error) as client:
        response = await client.get("/boom")
    assert response.status_code == 422
    assert response.json() == {"error": {"code": "invalid_value", "message": message}}


async def test_a_database_that_is_down_is_still_503() -> None:
    error = DBAPIError("SELECT 1", None, _DriverError("connection refused", "08006"))
    async with _app_raising(error) as client:
        response = await client.get("/boom")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"


async def test_a_value_refused_to_code_using_asyncpg_directly_is_422_too() -> None:
    # POST /callbacks/gewe/%00 (no account needed) reached asyncpg with the NUL and answered 500.
    error = asyncpg.exceptions.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
    async with _app_raising(error) as client:
        response = await client.get("/boom")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_value"
