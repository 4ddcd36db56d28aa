"""Message bodies as consoles and events see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class MessageOut(BaseModel):
    """One stored message; ids from WeChat are strings."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: uuid.UUID
    conversation_id: uuid.UUID
    new_msg_id: str | None
    msg_id: str | None
    kind: str
    direction: str
    is_self_sent: bool
    sent_by: str
    sent_by_user_id: uuid.UUID | None
    sender_wxid: str
    text: str
    payload: dict[str, Any]
    status: str
    error: str | None
    sent_at: datetime | None
    created_at: datetime
