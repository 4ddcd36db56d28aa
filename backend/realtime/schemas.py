"""Event envelopes as consoles receive them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class EventOut(BaseModel):
    """`{seq, type, at, data}` as pushed over Socket.IO and replayed by /api/events."""

    seq: int
    type: str
    at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    """Events after a sequence number, oldest first."""

    items: list[EventOut]
    last_seq: int
    has_more: bool
