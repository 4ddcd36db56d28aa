"""Routes: health, readiness and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

router = APIRouter(tags=["system"])


@router.get("/api/health")
async def health() -> dict[str, bool]:
    """Liveness: the process answers."""
    return {"ok": True}


async def _check(name: str, probe: Any) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    try:
        await probe()
    except Exception as exc:  # a readiness probe reports every failure instead of raising
        return name, {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}
    return name, {"ok": True, "detail": f"{(time.perf_counter() - started) * 1000:.1f} ms"}


@router.get("/api/ready")
async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers, and Redis when configured."""
    state = request.app.state

    async def database() -> None:
        async with state.database.engine.connect() as conn:
            await conn.execute(text("select 1"))

    checks = dict([await _check("database", database)])
    if state.redis is not None:

        async def redis() -> None:
            await state.redis.ping()

        checks.update([await _check("redis", redis)])
    ok = all(check["ok"] for check in checks.values())
    return JSONResponse({"ok": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus text exposition."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
