"""What several browser tests set up: a sales user owning a simulated, logged-in WeChat account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.auth.models import Role, User
from backend.organizations.models import Organization
from tests.backend.accounts.support import Sim, sim_account
from tests.backend.conversations.support import FAST_PACING


@dataclass
class SalesDesk:
    """The organisation, its sales user (with password) and the simulator's view of the user's account."""

    organization: Organization
    user: User
    password: str
    remote: dict[str, Any]


async def sales_desk(live_server: Any, sim: Sim, make_org: Any, make_user: Any, make_account: Any) -> SalesDesk:
    """A sales user owning a simulated account whose callbacks go to the live server."""
    organization = await make_org()
    user, password = await make_user(Role.sales, organization=organization)
    remote = await sim_account(sim)
    account = await make_account(
        organization, app_id=remote["appId"], wxid=remote["wxid"], owner_user_id=user.id, pacing=FAST_PACING
    )
    await sim.control.post(
        "/_sim/callbacks", json={"callbackUrl": f"{live_server.url}/callbacks/gewe/{account.callback_secret}"}
    )
    return SalesDesk(organization, user, password, remote)
