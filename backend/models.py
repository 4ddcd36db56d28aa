"""Every ORM model, imported so Alembic and tests see the whole schema."""

from backend.audit.models import AuditEvent
from backend.auth.models import LoginFailure, RefreshToken, User
from backend.core.db import Base
from backend.organizations.models import Organization
from backend.realtime.models import RealtimeEvent

__all__ = ["AuditEvent", "Base", "LoginFailure", "Organization", "RealtimeEvent", "RefreshToken", "User"]
