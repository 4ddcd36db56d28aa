"""Pure ASGI middleware: request ids, access logs, request metrics and request body limits."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import error_body
from backend.core.logs import conversation_id_var, request_id_var
from backend.core.metrics import HTTP_LATENCY, HTTP_REQUESTS

logger = logging.getLogger("salesbot.access")
SECRET_PATH_PREFIXES = ("/callbacks/",)


class RequestContextMiddleware:
    """Give every HTTP request an id (X-Request-ID in and out), time it, count it and log it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")[:64]
        # An id to correlate logs, not a secret: no system call for randomness on every request.
        request_id = incoming or f"{random.getrandbits(128):032x}"
        token = request_id_var.set(request_id)
        conversation_token = conversation_id_var.set(None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            requests, latency = _request_metrics(scope["method"], route_path, status)
            requests.inc()
            latency.observe(elapsed)
            # Callback URLs carry the account's secret: log their route template instead.
            path = route_path if scope["path"].startswith(SECRET_PATH_PREFIXES) else scope["path"]
            logger.info(
                "%s %s %s",
                scope["method"],
                path,
                status,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 2), "route": route_path},
            )
            request_id_var.reset(token)
            conversation_id_var.reset(conversation_token)


@lru_cache(maxsize=4096)
def _request_metrics(method: str, route_path: str, status: int) -> tuple[Any, Any]:
    """The request counter and latency histogram of one method, route and status (label look-ups cost a lock)."""
    return HTTP_REQUESTS.labels(method, route_path, str(status)), HTTP_LATENCY.labels(method, route_path)


class BodyTooLarge(HTTPException):
    """A streamed (chunked) request body grew past the limit; rendered as 413 by the app's error handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, body_too_large_message(limit))
        self.limit = limit


def body_too_large_message(limit: int) -> str:
    """The reason a 413 gives."""
    return f"request body is larger than the limit of {limit:,} bytes"


class BodySizeLimitMiddleware:
    """Answer 413 to request bodies over a limit: at once when Content-Length says so, else while a chunked body streams.

    The limit is the one of the first matching path prefix, else `default`. A request with an acceptable
    Content-Length costs one header scan: the server never delivers more bytes than it announced, so only
    bodies without one (chunked) are counted as they are received.
    """

    def __init__(self, app: ASGIApp, *, default: int, prefixes: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.default = default
        self.prefixes = tuple(prefixes)

    def limit_for(self, path: str) -> int:
        """The body limit of a request path."""
        for prefix, limit in self.prefixes:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one ASGI call's body size."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    break  # malformed: count what arrives instead
                if int(value) > limit:
                    await _refuse(send, limit)
                    return
                await self.app(scope, receive, send)
                return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_tracked)
        except BodyTooLarge:
            # Raised where no error handler renders it (e.g. below another middleware): answer here if still possible.
            if started:
                raise
            await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(error_body("payload_too_large", body_too_large_message(limit))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
