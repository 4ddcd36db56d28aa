"""A live app wired to the simulator with one account, its sales user, and the sales starter KB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from backend.accounts.models import Account
from backend.agent import kb
from backend.agent.embedder import get_embedder
from backend.auth.models import Role
from backend.core.db import Database
from backend.ingest.dispatcher import LocalDispatcher
from backend.messages.models import Conversation
from backend.organizations.models import Organization
from backend.replies.knowledge import SALES_STARTER_DIR
from tests.backend.accounts.support import Sim, sim_account, wait_until
from tests.fixtures.db import LiveServer

FAST_PACING = {"per_minute_cap": 10_000, "min_gap_per_chat": 0.0, "switch_jitter": [0.0, 0.0], "daily_cap": None}


@pytest.fixture
async def sales_kb(db: Database) -> None:
    """The sales starter KB (shared rows; unchanged documents are skipped)."""
    await kb.load_documents(db.engine, get_embedder(None), kb.read_directory(SALES_STARTER_DIR))


@dataclass
class Workbench:
    """One organisation's account on the simulator, a sales user's API client, and helpers."""

    server: LiveServer
    sim: Sim
    db: Database
    organization: Organization
    account: Account
    remote: dict[str, Any]
    api: httpx.AsyncClient
    access_token: str
    user_id: uuid.UUID

    @property
    def customer(self) -> str:
        """The wxid of the first simulated friend."""
        return str(self.remote["contacts"][0]["wxid"])

    async def say(self, text: str, *, customer: str | None = None) -> None:
        """A simulated customer writes to the account."""
        response = await self.sim.control.post(
            "/_sim/inject", json={"appId": self.remote["appId"], "fromWxid": customer or self.customer, "content": text}
        )
        response.raise_for_status()

    def sent_to(self, wxid: str | None = None) -> list[str]:
        """Texts the account sent to a chat, as the simulator recorded them."""
        return [
            m.content for m in self.sim.state.sent_messages(app_id=self.remote["appId"], to_wxid=wxid or self.customer)
        ]

    async def wait_sent(self, count: int, limit: float = 15.0) -> list[str]:
        """Wait until the simulator recorded `count` messages to the customer."""

        async def enough() -> bool:
            return len(self.sent_to()) >= count

        await wait_until(enough, limit)
        return self.sent_to()

    async def conversation(self, wxid: str | None = None) -> Conversation:
        """The account's conversation with a chat (waits until it exists)."""
        found: list[Conversation] = []

        async def exists() -> bool:
            async with self.db.sessionmaker() as session:
                row = await session.scalar(
                    select(Conversation).where(
                        Conversation.account_id == self.account.id, Conversation.chat_wxid == (wxid or self.customer)
                    )
                )
            if row is not None:
                found[:] = [row]
            return row is not None

        await wait_until(exists)
        return found[0]

    async def wait_mode(self, mode: str, limit: float = 15.0) -> Conversation:
        """Wait until the customer's conversation is in a mode."""
        current: list[Conversation] = []

        async def reached() -> bool:
            current[:] = [await self.conversation()]
            return current[0].mode == mode

        await wait_until(reached, limit)
        return current[0]

    async def settle(self) -> None:
        """Wait for queued inbox work and AI replies of the live app."""
        channel = self.server.state.channel
        await asyncio.sleep(0.05)
        # The live app runs without Redis: its in-process lanes must have processed the callback before a reply
        # can be queued (50 ms was not always enough for that).
        assert isinstance(channel.dispatcher, LocalDispatcher)
        await channel.dispatcher.join()
        if channel.replies is not None:
            await channel.replies.wait_idle()


async def start_workbench(
    server: LiveServer, sim: Sim, db: Database, make_org: Any, make_account: Any, login: Any, **account_fields: Any
) -> Workbench:
    """Create an organisation, its logged-in simulated account (owned by a sales user) and an API client."""
    organization = await make_org()
    sales = await login(Role.sales, organization=organization)
    remote = await sim_account(sim)
    account = await make_account(
        organization,
        app_id=remote["appId"],
        wxid=remote["wxid"],
        nickname="小美的销售号",
        owner_user_id=sales.user.id,
        pacing=FAST_PACING,
        **account_fields,
    )
    await sim.control.post(
        "/_sim/callbacks", json={"callbackUrl": f"{server.url}/callbacks/gewe/{account.callback_secret}"}
    )
    api = httpx.AsyncClient(base_url=server.url, headers=sales.headers, timeout=30)
    return Workbench(server, sim, db, organization, account, remote, api, sales.access_token, sales.user.id)


@pytest.fixture
async def workbench(
    live_server: LiveServer, sim: Sim, db: Database, make_org: Any, make_account: Any, login: Any, sales_kb: None
) -> AsyncIterator[Workbench]:
    """A live workbench for one organisation."""
    bench = await start_workbench(live_server, sim, db, make_org, make_account, login)
    try:
        yield bench
    finally:
        await bench.api.aclose()
