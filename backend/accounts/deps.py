"""Who may use the accounts API: managers write, sales read and send."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backend.accounts.gewe import GeweGateway, get_gateway
from backend.auth.models import Role
from backend.core.deps import require_role

AccountManager = require_role(Role.admin, Role.manager)
AccountReader = require_role(Role.admin, Role.manager, Role.sales)
GatewayDep = Annotated[GeweGateway, Depends(get_gateway)]
