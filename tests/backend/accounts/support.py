"""Shared fixtures of the channel tests: a GeWe simulator over HTTP and settings pointing the app at it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from backend.accounts.models import Account, AccountStatus
from backend.config import Settings
from backend.core.db import Database
from backend.organizations.models import Organization
from bots.simulator import SimulatorConfig, SimulatorState, create_simulator_app
from bots.simulator.server import serve_in_loop

SIM_TOKEN = "sim-test-token"
SAMPLE_APP_ID = "wx_wR_U4zPj2M_OTS3BCyoE4"
SAMPLE_ACCOUNT_WXID = "wxid_0xsqb3o0tsvz22"


@dataclass
class Sim:
    """A simulator served over HTTP, its state and a control client."""

    state: SimulatorState
    base_url: str
    control: httpx.AsyncClient

    @property
    def api_base(self) -> str:
        """GeWe API base of the simulator."""
        return self.base_url + self.state.config.base_path


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """A deterministic simulator (no scripted customers, logins confirmed by the test)."""
    config = SimulatorConfig(
        token=SIM_TOKEN, seed=11, auto_confirm_login_after=None, friends_per_account=6, scripted_customers=False
    )
    state = SimulatorState(config)
    async with serve_in_loop(create_simulator_app(state)) as base_url, httpx.AsyncClient(base_url=base_url) as control:
        yield Sim(state, base_url, control)


@pytest.fixture
def settings(settings: Settings, sim: Sim) -> Settings:
    """The session settings with GeWe pointed at this test's simulator."""
    channel = settings.model_copy(deep=True)
    channel.gewe.api_base = sim.api_base
    channel.gewe.token = SIM_TOKEN
    return channel


async def wait_until(check: Callable[[], Awaitable[bool]], limit: float = 10.0) -> None:
    """Poll an async predicate until it holds (fails the test after `limit` seconds)."""
    async with asyncio.timeout(limit):
        while not await check():  # noqa: ASYNC110 - polls the database, nothing to await on
            await asyncio.sleep(0.02)


@pytest.fixture
def make_account(db: Database) -> Callable[..., Awaitable[Account]]:
    """Factory inserting an account row directly (already logged in unless told otherwise)."""

    async def make(
        organization: Organization,
        *,
        app_id: str | None = None,
        wxid: str | None = None,
        status: AccountStatus = AccountStatus.online,
        **fields: Any,
    ) -> Account:
        async with db.sessionmaker() as session:
            account = Account(
                organization_id=organization.id,
                app_id=app_id,
                wxid=wxid,
                status=status,
                callback_secret="s-" + uuid.uuid4().hex,
                **fields,
            )
            session.add(account)
            await session.commit()
            return account

    return make


async def sim_account(sim: Sim, *, online: bool = True) -> dict[str, Any]:
    """Create a logged-in account in the simulator; returns its summary (appId, wxid, ...)."""
    response = await sim.control.post("/_sim/accounts", json={"online": online})
    response.raise_for_status()
    summary: dict[str, Any] = response.json()
    return summary
