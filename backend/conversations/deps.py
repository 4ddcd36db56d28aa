"""Who may use the workbench: sales staff and their managers; policies are for managers."""

from __future__ import annotations

from backend.auth.models import Role
from backend.core.deps import require_role

StaffUser = require_role(Role.admin, Role.manager, Role.sales)
ManagerUser = require_role(Role.admin, Role.manager)
