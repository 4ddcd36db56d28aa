"""Route: POST /callbacks/gewe/{secret}, where GeWe posts callbacks (the secret authenticates, no JWT)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.core.errors import error_body
from backend.ingest.runtime import ChannelRuntime, channel_lifespan
from backend.ingest.service import AcceptOutcome

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ingest"], lifespan=channel_lifespan)

_ERRORS = {
    AcceptOutcome.unknown_secret: (404, "unknown_callback"),
    AcceptOutcome.malformed: (400, "malformed_callback"),
    AcceptOutcome.rejected: (403, "appid_mismatch"),
}


@router.post("/callbacks/gewe/{secret}", response_model=None)
async def gewe_callback(secret: str, request: Request) -> JSONResponse:
    """Store a GeWe callback before answering 200; duplicates answer 200 with `duplicate: true`."""
    runtime: ChannelRuntime = request.app.state.channel
    result = await runtime.accept(secret, await request.body())
    if result.outcome in _ERRORS:
        status, code = _ERRORS[result.outcome]
        logger.warning("GeWe callback refused (%s): %s", code, result.reason)
        return JSONResponse(error_body(code, result.reason), status_code=status)
    if result.outcome == AcceptOutcome.duplicate:
        return JSONResponse({"ok": True, "duplicate": True})
    return JSONResponse({"ok": True})
