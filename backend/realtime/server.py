"""Socket.IO server: JWT-checked connections joined to their organisation's room."""

from __future__ import annotations

import logging
from typing import Any

import socketio
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import User
from backend.config import Settings
from backend.core.db import Database
from backend.core.metrics import SOCKET_CONNECTIONS
from backend.core.security import InvalidToken, decode_token
from backend.realtime.models import RealtimeEvent
from backend.realtime.service import current_seq, envelope, org_room, take_pending

logger = logging.getLogger(__name__)


class Broadcaster:
    """Pushes committed events to the Socket.IO rooms they name."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio

    async def emit(self, events: list[RealtimeEvent]) -> None:
        """Emit events, each to its rooms, named by its type."""
        for event in events:
            payload = envelope(event)
            for room in event.rooms:
                await self.sio.emit(event.type, payload, room=room)

    async def flush(self, session: AsyncSession) -> None:
        """Emit what the session's committed transaction published."""
        events = take_pending(session)
        if events:
            await self.emit(events)

    async def commit(self, session: AsyncSession) -> None:
        """Commit the session, then push the events it published."""
        await session.commit()
        await self.flush(session)


def create_socket_server(settings: Settings, database: Database) -> socketio.AsyncServer:
    """Build the AsyncServer (Redis-managed when REDIS_URL is set) with the auth handshake."""
    manager = socketio.AsyncRedisManager(settings.redis.url) if settings.redis.url else None
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=settings.server.cors_origins or [],
        logger=False,
        engineio_logger=False,
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None = None) -> None:
        token = (auth or {}).get("token")
        if not isinstance(token, str) or not token:
            SOCKET_CONNECTIONS.labels("refused").inc()
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        try:
            claims = decode_token(token, secret=settings.security.jwt_secret or "", kind="access")
        except InvalidToken as exc:
            SOCKET_CONNECTIONS.labels("refused").inc()
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from exc
        async with database.sessionmaker() as session:
            user = await session.get(User, claims.subject)
            if user is None or not user.is_active:
                SOCKET_CONNECTIONS.labels("refused").inc()
                raise socketio.exceptions.ConnectionRefusedError("unauthorized")
            seq = await current_seq(session, organization_id=user.organization_id)
        await sio.save_session(sid, {"user_id": str(user.id), "organization_id": str(user.organization_id)})
        await sio.enter_room(sid, org_room(user.organization_id))
        SOCKET_CONNECTIONS.labels("accepted").inc()
        await sio.emit(
            "hello",
            {"user_id": str(user.id), "organization_id": str(user.organization_id), "seq": seq},
            to=sid,
        )

    return sio
