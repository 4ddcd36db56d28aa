"""Response bodies of the audit log API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEventOut(BaseModel):
    """One audited action: who (null: the system or the command line), what, on which object, details."""

    id: int
    created_at: datetime
    actor_id: uuid.UUID | None
    actor_name: str | None
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audit events, newest first, with the number matching the filters."""

    items: list[AuditEventOut]
    total: int
