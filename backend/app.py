"""create_app(settings): the ASGI application (FastAPI + Socket.IO) with its lifespan wiring."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
import socketio
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from backend.accounts.router import router as accounts_router
from backend.agent.router import router as agent_router
from backend.audit.router import router as audit_router
from backend.auth.router import auth_router, users_router
from backend.config import Settings
from backend.conversations.router import router as conversations_router
from backend.core.db import Database, ensure_migrated
from backend.core.errors import error_body, install_error_handlers
from backend.core.heap import frozen_startup_heap
from backend.core.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from backend.cost.router import router as cost_router
from backend.crm.router import router as mock_crm_router
from backend.ingest.fastpath import AppWithCallbackFastPath
from backend.ingest.router import router as callbacks_router
from backend.messages.router import router as messages_router
from backend.realtime.router import router as events_router
from backend.realtime.server import Broadcaster, create_socket_server
from backend.sop.router import router as sop_router
from backend.system.router import router as system_router

logger = logging.getLogger(__name__)
API_PREFIXES = ("/api/", "/callbacks/", "/mock/", "/metrics", "/socket.io")


def create_app(settings: Settings) -> socketio.ASGIApp:
    """Build the FastAPI app and wrap it with the Socket.IO server; the database URL must be resolved."""
    if not settings.database.url:
        raise ValueError("settings.database.url must be set (the CLI starts embedded PostgreSQL and sets it)")
    if not settings.security.jwt_secret:
        raise ValueError("settings.security.jwt_secret must be set")
    database = Database(settings.database.url, settings.database)
    sio = create_socket_server(settings, database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_migrated(database.engine)
        app.state.redis = aioredis.Redis.from_url(settings.redis.url) if settings.redis.url else None
        logger.info("salesbot started", extra={"mode": settings.mode, "redis": bool(settings.redis.url)})
        try:
            yield
        finally:
            gateway = getattr(app.state, "llm_gateway", None)
            if gateway is not None:
                await gateway.aclose()
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await database.dispose()

    app = FastAPI(
        title="Salesbot",
        summary="WeChat sales-assistant platform API",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.sio = sio
    app.state.broadcaster = Broadcaster(sio)
    app.state.redis = None

    install_error_handlers(app)
    # Added innermost first: request context (logs, metrics) wraps CORS, which wraps the body limit (so a 413
    # carries the CORS headers a browser needs to read it).
    app.add_middleware(
        BodySizeLimitMiddleware,
        default=settings.server.max_body_bytes,
        prefixes=(("/callbacks/", settings.server.callback_max_body_bytes),),
    )
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestContextMiddleware)

    for router in (system_router, auth_router, users_router, events_router, accounts_router, callbacks_router):
        app.include_router(router)
    app.include_router(conversations_router)
    app.include_router(messages_router)
    app.include_router(sop_router)
    app.include_router(cost_router)
    app.include_router(agent_router)
    app.include_router(audit_router)
    app.include_router(mock_crm_router)
    # Included last, so its lifespan enters after every other one has started (routers' lifespans nest in order).
    app.include_router(APIRouter(lifespan=_startup_heap_frozen))
    mount_console(app, settings.server.console_dir)
    return AppWithCallbackFastPath(sio, app, callback_max_body_bytes=settings.server.callback_max_body_bytes)


@asynccontextmanager
async def _startup_heap_frozen(app: FastAPI) -> AsyncIterator[None]:
    """Freeze what startup allocated (see frozen_startup_heap) for the app's lifetime."""
    with frozen_startup_heap():
        yield


def mount_console(app: FastAPI, console_dir: Path) -> None:
    """Serve the built Vue console at / with history-mode fallback to index.html."""
    console_root = console_dir.resolve()
    index = console_root / "index.html"
    if (console_dir / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=console_dir / "assets"), name="console-assets")

    @app.get("/{path:path}", include_in_schema=False, response_model=None)
    async def console(path: str, request: Request) -> FileResponse | JSONResponse:
        if request.url.path.startswith(API_PREFIXES):
            return JSONResponse(error_body("not_found", f"no route {request.url.path}"), status_code=404)
        candidate = (console_root / path).resolve()
        if path and candidate.is_relative_to(console_root) and candidate.is_file():
            return FileResponse(candidate)
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return JSONResponse(
            error_body(
                "console_not_built",
                f"the console is not built: run `npm run build` in vue-frontend ({index})",
            ),
            status_code=503,
        )
