"""A SOP test world: simulated accounts with tagged friends, a manager, and a dispatcher driven by a settable clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.accounts.gewe import GeweGateway, token_cipher
from backend.accounts.models import Account
from backend.auth.models import Role, User
from backend.config import Settings, SopSettings
from backend.contacts.models import Contact
from backend.core.db import Database
from backend.llm.gateway import LLMGateway
from backend.organizations.models import Organization
from backend.sop import service
from backend.sop.dispatcher import SopDispatcher
from backend.sop.models import Sop, SopDelivery
from backend.sop.runtime import SopRuntime
from backend.sop.schemas import SopIn
from bots.pacer import InProcessPacer, PacingPolicy
from tests.backend.accounts.support import Sim, sim_account

FAST_POLICY = PacingPolicy(per_minute_cap=10_000, min_gap_per_chat=0.0, switch_jitter=(0.0, 0.0), daily_cap=None)
TEST_SOP_SETTINGS = SopSettings(
    dispatch_interval=0.05,
    tick_seconds=0.2,
    leader_retry_seconds=0.2,
    claim_lease_seconds=5,
    echo_grace_seconds=2,
    max_attempts=3,
    retry_base_seconds=10,
    human_wait_seconds=600,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**delta)


async def add_friends(
    db: Database,
    account: Account,
    count: int,
    *,
    tags: list[str],
    added_at: datetime | None = None,
    prefix: str = "f",
    group: bool = False,
) -> list[Contact]:
    """Friends (or group chats) of an account in the database, named 客户<prefix><n>."""
    async with db.sessionmaker() as session:
        contacts = [
            Contact(
                organization_id=account.organization_id,
                account_id=account.id,
                wxid=f"wxid_{prefix}{index}_{uuid.uuid4().hex[:6]}{'@chatroom' if group else ''}",
                nickname=f"客户{prefix}{index}",
                is_group=group,
                tags=tags,
                added_at=added_at or datetime.now(UTC),
            )
            for index in range(count)
        ]
        session.add_all(contacts)
        await session.commit()
        return contacts


@dataclass
class SopWorld:
    """Accounts on the simulator with tagged friends in the database, and the SOP machinery on a clock."""

    db: Database
    sim: Sim
    settings: Settings
    organization: Organization
    manager: User
    accounts: list[Account]
    remotes: list[dict[str, Any]]
    clock: Clock
    gateway: GeweGateway
    pacer: InProcessPacer
    sop_settings: SopSettings = field(default_factory=lambda: TEST_SOP_SETTINGS)

    def dispatcher(self, llm: LLMGateway | None = None) -> SopDispatcher:
        """A dispatcher on this world's clock, pacer and gateway (and LLM gateway when given)."""
        return SopDispatcher(
            self.db.sessionmaker,
            gateway=self.gateway,
            pacer=self.pacer,
            settings=self.sop_settings,
            clock=self.clock,
            llm=llm,
        )

    def runtime(self) -> SopRuntime:
        """The whole engine (dispatcher + leader tick) on this world's clock."""
        return SopRuntime(self.sop_settings, self.db, gateway=self.gateway, pacer=self.pacer, clock=self.clock)

    def step(self, text: str, **fields: Any) -> dict[str, Any]:
        """A text step, due at the clock's time unless `timing` is given."""
        return {
            "content": {"kind": "text", "text": text},
            "timing": fields.pop("timing", {"kind": "at", "at": self.clock.now.isoformat()}),
            **fields,
        }

    async def add_friends(
        self, account: Account, count: int, *, tags: list[str], added_at: datetime | None = None, prefix: str = "f"
    ) -> list[Contact]:
        """Friends of an account in the database (the simulator accepts sends to any wxid)."""
        return await add_friends(
            self.db, account, count, tags=tags, added_at=added_at or self.clock.now - timedelta(days=30), prefix=prefix
        )

    async def create(self, body: dict[str, Any]) -> Sop:
        """A draft SOP created as the manager."""
        async with self.db.sessionmaker() as session:
            sop = await service.create_sop(session, user=self.manager, body=SopIn.model_validate(body))
            await session.commit()
            return sop

    async def control(self, action: str, sop: Sop) -> None:
        """start / pause / resume / cancel as the manager, at the clock's time."""
        async with self.db.sessionmaker() as session:
            if action == "start":
                await service.start_sop(
                    session, user=self.manager, sop_id=sop.id, now=self.clock.now, horizon=timedelta(hours=24)
                )
            else:
                action_fn: Callable[..., Any] = getattr(service, f"{action}_sop")
                await action_fn(session, user=self.manager, sop_id=sop.id, now=self.clock.now)
            await session.commit()

    async def deliveries(self, sop: Sop) -> list[SopDelivery]:
        """The SOP's deliveries, in id order."""
        async with self.db.sessionmaker() as session:
            rows = await session.scalars(
                select(SopDelivery).where(SopDelivery.sop_id == sop.id).order_by(SopDelivery.id)
            )
            return list(rows)

    async def status(self, sop: Sop) -> str:
        """The SOP's stored status."""
        async with self.db.sessionmaker() as session:
            return str(await session.scalar(select(Sop.status).where(Sop.id == sop.id)))

    def received(self, account_index: int | None = None) -> list[Any]:
        """Messages the simulator received from the world's accounts."""
        app_id = None if account_index is None else self.remotes[account_index]["appId"]
        return self.sim.state.sent_messages(app_id=app_id)


@pytest.fixture
async def sop_world(
    db: Database, sim: Sim, settings: Settings, make_org, make_user, make_account
) -> AsyncIterator[SopWorld]:  # type: ignore[no-untyped-def]
    """Two online accounts on the simulator, a manager, and a clock at the present."""
    organization = await make_org()
    manager, _ = await make_user(Role.manager, organization=organization)
    remotes, accounts = [], []
    for index in range(2):
        remote = await sim_account(sim)
        remotes.append(remote)
        accounts.append(
            await make_account(organization, app_id=remote["appId"], wxid=remote["wxid"], nickname=f"销售{index + 1}号")
        )
    gateway = GeweGateway(settings.gewe, token_cipher(settings.security))
    world = SopWorld(
        db=db,
        sim=sim,
        settings=settings,
        organization=organization,
        manager=manager,
        accounts=accounts,
        remotes=remotes,
        clock=Clock(datetime.now(UTC)),
        gateway=gateway,
        pacer=InProcessPacer(FAST_POLICY),
    )
    try:
        yield world
    finally:
        await gateway.aclose()
