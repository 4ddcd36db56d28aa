"""Route: POST /callbacks/gewe/{secret}, where GeWe posts callbacks (the secret authenticates, no JWT)."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.core.errors import error_body
from backend.core.metrics import CALLBACKS
from backend.core.secrets import CALLBACK_SECRET_SHAPE
from backend.ingest.runtime import ChannelRuntime, channel_lifespan
from backend.ingest.service import AcceptOutcome

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ingest"], lifespan=channel_lifespan)

# Anything not shaped like a callback secret (NUL, control characters, spaces, a too long string) names no account
# and is refused without a query.
_SECRET_SHAPE = re.compile(CALLBACK_SECRET_SHAPE)
_UNKNOWN = "no account has this callback URL"
CALLBACK_ROUTE = "/callbacks/gewe/{secret}"

_ERRORS = {
    AcceptOutcome.unknown_secret: (404, "unknown_callback"),
    AcceptOutcome.malformed: (400, "malformed_callback"),
    AcceptOutcome.rejected: (403, "appid_mismatch"),
}


async def answer_callback(runtime: ChannelRuntime, secret: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Accept one callback; the status and JSON body GeWe gets (shared by the route and the ASGI fast path)."""
    if _SECRET_SHAPE.fullmatch(secret) is None:
        CALLBACKS.labels(AcceptOutcome.unknown_secret.value).inc()
        return 404, error_body("unknown_callback", _UNKNOWN)
    result = await runtime.accept(secret, body)
    if result.outcome in _ERRORS:
        status, code = _ERRORS[result.outcome]
        logger.warning("GeWe callback refused (%s): %s", code, result.reason)
        return status, error_body(code, result.reason)
    if result.outcome == AcceptOutcome.duplicate:
        return 200, {"ok": True, "duplicate": True}
    return 200, {"ok": True}


@router.post(CALLBACK_ROUTE, response_model=None)
async def gewe_callback(secret: str, request: Request) -> JSONResponse:
    """Store a GeWe callback before answering 200; duplicates answer 200 with `duplicate: true`.

    The app serves this path through `backend.ingest.fastpath` (same answers, without the router); the route
    documents it and serves it when the app runs without the fast path.
    """
    status, payload = await answer_callback(request.app.state.channel, secret, await request.body())
    return JSONResponse(payload, status_code=status)
