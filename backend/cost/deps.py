"""Who may use the cost API: admins and finance."""

from __future__ import annotations

from backend.auth.models import Role
from backend.core.deps import require_role

FinanceUser = require_role(Role.admin, Role.finance)
