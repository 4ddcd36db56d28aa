"""Application errors and the handlers that render every error as {"error": {"code", "message"}}."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}


class AppError(Exception):
    """An error meant for the client: HTTP status, stable code and a human message."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.headers = headers


class NotFound(AppError):
    """The resource does not exist (or is not visible to the caller's organisation)."""

    status_code = 404
    code = "not_found"


class Unauthorized(AppError):
    """Missing, expired or invalid credentials."""

    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    """Authenticated, but not allowed."""

    status_code = 403
    code = "forbidden"


class Conflict(AppError):
    """The request clashes with existing state."""

    status_code = 409
    code = "conflict"


class TooManyRequests(AppError):
    """Rate limited; retry after the given number of seconds."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON error envelope."""
    return {"error": {"code": code, "message": message, **extra}}


def refused_value_reason(exc: Exception) -> str | None:
    """Why PostgreSQL refused a value of the statement (SQLSTATE class 22, data exception), else None.

    Such a value came from the request (a NUL character in text, a number or date its column cannot hold),
    so the client gets a 422 saying so instead of a 503 telling it to retry what can never succeed.
    Takes SQLAlchemy's DBAPIError or the driver's own error (code using asyncpg directly).
    """
    driver_error = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = str(getattr(driver_error, "sqlstate", None) or "")
    if not sqlstate.startswith("22"):
        return None
    if sqlstate in ("22021", "22P05"):  # character_not_in_repertoire (text), untranslatable_character (jsonb)
        return "text must not contain NUL (\\u0000) characters"
    if sqlstate in ("22003", "22008") or "out of" in str(driver_error):  # numeric / datetime field overflow
        return "a number or date in the request is out of the supported range"
    return "a value in the request cannot be stored"


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the app can raise in the common envelope."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(part) for part in err.get("loc", ())], "message": err.get("msg", "")} for err in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "message": "invalid request"}
        message = f"{'.'.join(first['loc'][1:]) or 'body'}: {first['message']}"
        return JSONResponse(error_body("validation_error", message, details=details), status_code=422)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(asyncpg.DataError)
    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        reason = refused_value_reason(exc)
        if reason is None:
            return await _database_down(request, exc)
        # Logged with the statement: a value computed by the server (a bug) would show up here too.
        logger.warning("database refused a value: %s", reason, exc_info=exc)
        return JSONResponse(error_body("invalid_value", reason), status_code=422)

    @app.exception_handler(OperationalError)
    @app.exception_handler(OSError)
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        logger.error("dependency unavailable", exc_info=exc)
        return JSONResponse(
            error_body("service_unavailable", "a backing service is unavailable, retry shortly"),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)
