"""Demo wiring: the bundled GeWe simulator in-process and one logged-in account for the demo organisation."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from backend.accounts import service
from backend.accounts.models import Account, AccountStatus
from backend.core.runtime import DEMO_ORGANIZATION
from backend.core.tasks import cancel_and_wait
from backend.organizations.models import Organization
from bots.simulator import SimulatorConfig, SimulatorState, create_simulator_app
from bots.simulator.server import serve_in_loop

if TYPE_CHECKING:
    from backend.ingest.runtime import ChannelRuntime

logger = logging.getLogger(__name__)

DEMO_ACCOUNT_NICKNAME = "演示销售号"


@dataclass
class DemoChannel:
    """The running simulator and the background login of the demo account."""

    simulator: SimulatorState
    login: asyncio.Task[Account | None]


@asynccontextmanager
async def demo_channel(runtime: ChannelRuntime) -> AsyncIterator[DemoChannel]:
    """Serve the GeWe simulator on a free local port, point the gateway at it, and log the demo account in."""
    token = secrets.token_hex(16)
    state = SimulatorState(
        SimulatorConfig(token=token, scripted_customers=True, auto_confirm_login_after=1.0, echo_sends=True)
    )
    async with serve_in_loop(create_simulator_app(state)) as base_url:
        runtime.gateway.api_base = base_url + state.config.base_path
        runtime.gateway.default_token = token
        logger.info("GeWe simulator serving at %s", runtime.gateway.api_base)
        task = asyncio.create_task(_login_logged(runtime))
        try:
            yield DemoChannel(state, task)
        finally:
            await cancel_and_wait(task)


async def _login_logged(runtime: ChannelRuntime) -> Account | None:
    try:
        return await ensure_demo_account(runtime)
    except Exception:
        logger.exception("could not log the demo WeChat account in")
        return None


async def ensure_demo_account(
    runtime: ChannelRuntime, *, organization_name: str = DEMO_ORGANIZATION, login_wait: float = 30.0
) -> Account | None:
    """Create the demo organisation's account when missing and log it in through the QR flow (auto-confirmed)."""
    sessionmaker = runtime.database.sessionmaker
    public_base_url = runtime.settings.public_base_url
    async with sessionmaker() as session:
        # Locking the organisation keeps two concurrent calls from creating two demo accounts.
        organization_id = await session.scalar(
            select(Organization.id).where(Organization.name == organization_name).with_for_update()
        )
        if organization_id is None:
            logger.warning("no organisation %r: the demo account is not created", organization_name)
            return None
        account = await session.scalar(
            select(Account).where(Account.organization_id == organization_id).order_by(Account.created_at).limit(1)
        )
        if account is None:
            account = await service.create_account(
                session, organization_id=organization_id, gateway=runtime.gateway, nickname=DEMO_ACCOUNT_NICKNAME
            )
        await service.request_login_qr(session, account=account, gateway=runtime.gateway)
        await runtime.monitor.commit(session)
        account_id = account.id
    async with asyncio.timeout(login_wait):
        while True:
            await asyncio.sleep(0.5)
            async with sessionmaker() as session:
                account = await service.get_account(
                    session, organization_id=organization_id, account_id=account_id, for_update=True
                )
                status = await service.check_login_status(
                    session, account=account, gateway=runtime.gateway, public_base_url=public_base_url
                )
                await runtime.monitor.commit(session)
            if account.status == AccountStatus.online:
                logger.info("demo account %s online as %s", account.id, status.account.wxid)
                async with sessionmaker() as session:
                    account = await service.get_account(session, organization_id=organization_id, account_id=account_id)
                    # Friends with their labels, so the demo SOP's tag targets match people.
                    friends, groups = await service.sync_contacts(session, account=account, gateway=runtime.gateway)
                    await runtime.monitor.commit(session)
                logger.info("demo account synced %d friends and %d groups", friends, groups)
                return account
