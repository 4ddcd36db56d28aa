"""Socket.IO server: JWT-checked connections joined to their organisation's room."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import socketio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.models import Account
from backend.auth.models import User
from backend.config import Settings
from backend.core.db import Database
from backend.core.metrics import SOCKET_CONNECTIONS
from backend.core.security import InvalidToken, decode_token
from backend.messages.models import Conversation
from backend.realtime.service import (
    PublishedEvent,
    account_room,
    conversation_room,
    current_seq,
    envelope,
    org_room,
    take_pending,
    user_room,
)

logger = logging.getLogger(__name__)


class Broadcaster:
    """Pushes committed events to the Socket.IO rooms they name (through a server, or a write-only Redis manager)."""

    def __init__(self, sio: socketio.AsyncServer | socketio.AsyncRedisManager) -> None:
        self.sio = sio

    async def emit(self, events: list[PublishedEvent]) -> None:
        """Emit events, each to its rooms, named by its type."""
        for event in events:
            # One emit to all rooms: a client in several of them gets the event once.
            await self.sio.emit(event.type, envelope(event), room=list(event.rooms))

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
        await sio.enter_room(sid, user_room(user.id))
        SOCKET_CONNECTIONS.labels("accepted").inc()
        await sio.emit(
            "hello",
            {"user_id": str(user.id), "organization_id": str(user.organization_id), "seq": seq},
            to=sid,
        )

    @sio.on("subscribe")
    async def subscribe(sid: str, data: Any) -> dict[str, Any]:
        """Join the room of an account or conversation of the user's organisation."""
        room = await _checked_room(sid, data)
        if room is None:
            return {"ok": False, "error": "not found"}
        await sio.enter_room(sid, room)
        return {"ok": True, "room": room}

    @sio.on("unsubscribe")
    async def unsubscribe(sid: str, data: Any) -> dict[str, Any]:
        """Leave an account or conversation room."""
        room = await _checked_room(sid, data)
        if room is not None:
            await sio.leave_room(sid, room)
        return {"ok": room is not None}

    async def _checked_room(sid: str, data: Any) -> str | None:
        session_data = await sio.get_session(sid)
        if not isinstance(data, dict):
            return None
        try:
            organization_id = uuid.UUID(session_data["organization_id"])
            if data.get("conversation_id"):
                target = uuid.UUID(str(data["conversation_id"]))
                model: Any = Conversation
                room = conversation_room(target)
            elif data.get("account_id"):
                target = uuid.UUID(str(data["account_id"]))
                model, room = Account, account_room(target)
            else:
                return None
        except (KeyError, ValueError):
            return None
        async with database.sessionmaker() as session:
            found = await session.scalar(
                select(model.id).where(model.id == target, model.organization_id == organization_id)
            )
        return room if found is not None else None

    return sio
