"""Pure ASGI middleware: request ids, access logs and request metrics."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.logs import request_id_var
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
        request_id = incoming or uuid.uuid4().hex
        token = request_id_var.set(request_id)
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
            HTTP_REQUESTS.labels(scope["method"], route_path, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route_path).observe(elapsed)
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
