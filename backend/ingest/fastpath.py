"""GeWe callbacks served straight from ASGI: the busiest endpoint skips FastAPI's routing and middleware stack.

Profiling the accept path showed four fifths of its time in FastAPI's route matching, exception and exit-stack
middleware, and one fifth in storing the callback. The fast path keeps what matters (request id, access
log and metrics, body limit, the app's error rendering) and answers exactly as the route does.
"""

from __future__ import annotations

import json
import re
from typing import Any

import socketio
from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from backend.core.errors import error_body
from backend.core.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from backend.ingest.router import CALLBACK_ROUTE, answer_callback

CALLBACK_PATH = re.compile(r"/callbacks/gewe/([^/]+)")


class _Route:
    """What RequestContextMiddleware reads from `scope["route"]` (the template, never the secret)."""

    path = CALLBACK_ROUTE


class CallbackEndpoint:
    """The raw ASGI endpoint of POST /callbacks/gewe/{secret}."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body, accept it, answer; errors rendered by the app's own exception handlers."""
        scope["route"] = _Route()
        match = CALLBACK_PATH.fullmatch(scope["path"])
        assert match is not None, "routed here by AppWithCallbackFastPath"
        try:
            runtime = getattr(self.app.state, "channel", None)
            if runtime is None:
                status, payload = 503, error_body("service_unavailable", "the channel is starting, retry shortly")
            else:
                status, payload = await answer_callback(runtime, match.group(1), await _read_body(receive))
        except Exception as exc:
            handler = _handler_for(self.app, exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _handler_for(app: FastAPI, exc: Exception) -> Any:
    for cls in type(exc).__mro__:
        if cls in app.exception_handlers:
            return app.exception_handlers[cls]
    return None


class AppWithCallbackFastPath(socketio.ASGIApp):
    """The Socket.IO + FastAPI app, with GeWe callbacks diverted to the fast path."""

    def __init__(self, sio: socketio.AsyncServer, app: FastAPI, *, callback_max_body_bytes: int) -> None:
        super().__init__(sio, other_asgi_app=app, socketio_path="socket.io")
        self.callbacks = RequestContextMiddleware(
            BodySizeLimitMiddleware(CallbackEndpoint(app), default=callback_max_body_bytes)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one ASGI call."""
        if scope["type"] == "http" and scope["method"] == "POST" and CALLBACK_PATH.fullmatch(scope["path"]):
            await self.callbacks(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
