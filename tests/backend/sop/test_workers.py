"""Acceptance 1 and 2: `salesbot worker` processes, one killed mid-run and two in parallel, deliver each message once, paced."""

from __future__ import annotations

import signal
from collections import defaultdict
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select

from backend.accounts.models import Account
from backend.auth.models import Role
from backend.config import Settings
from backend.core.db import Database, utcnow
from backend.sop import service
from backend.sop.models import Sop
from backend.sop.schemas import SopIn
from tests.backend.accounts.support import SIM_TOKEN, Sim, sim_account, wait_until
from tests.backend.sop.support import add_friends
from tests.fixtures.db import LiveServer
from tests.fixtures.processes import process_env, running, start_salesbot

ACCOUNTS, FRIENDS_PER_ACCOUNT, STEPS = 3, 100, 3
# The cap is what the test checks; the jitter keeps the natural rate (about 18 a second) well under it, so a
# second worker that did not share the account's budget would push the measured rate over the cap.
PACING = {
    "per_minute_cap": 30,
    "window_seconds": 1.0,
    "min_gap_per_chat": 1.0,
    "switch_jitter": [0.05, 0.06],
    "daily_cap": 5000,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app only ingests (it receives GeWe's echoes); the workers under test send."""
    ingest_only = settings.model_copy(deep=True)
    ingest_only.sop.dispatch = False
    return ingest_only


async def test_900_messages_go_out_once_each_through_a_killed_and_two_parallel_workers_within_pacing(
    sim: Sim,
    live_server: LiveServer,
    db: Database,
    settings: Settings,
    redis_url: str,
    make_org,
    make_user,
    make_account,  # type: ignore[no-untyped-def]
) -> None:
    organization = await make_org()
    manager, _ = await make_user(Role.manager, organization=organization)
    sim.state.config.echo_sends = True
    accounts: list[Account] = []
    for index in range(ACCOUNTS):
        remote = await sim_account(sim)
        account = await make_account(
            organization, app_id=remote["appId"], wxid=remote["wxid"], nickname=f"销售{index + 1}号", pacing=PACING
        )
        await sim.control.post(
            "/_sim/callbacks",
            json={
                "appId": remote["appId"],
                "callbackUrl": f"{live_server.url}/callbacks/gewe/{account.callback_secret}",
            },
        )
        await add_friends(db, account, FRIENDS_PER_ACCOUNT, tags=["双11"], added_at=utcnow(), prefix=f"a{index}_")
        accounts.append(account)
    steps = [
        {
            "content": {"kind": "text", "text": f"第{n}条：{{昵称}}，双11活动"},
            "timing": {"kind": "at", "at": utcnow().isoformat()},
        }
        for n in (1, 2, 3)
    ]
    async with db.sessionmaker() as session:
        sop = await service.create_sop(
            session,
            user=manager,
            body=SopIn.model_validate({"name": "双11", "targets": {"tags": ["双11"]}, "steps": steps}),
        )
        await service.start_sop(session, user=manager, sop_id=sop.id, now=utcnow(), horizon=timedelta(hours=24))
        await session.commit()
    env = process_env(
        DATABASE_URL=settings.database.url or "",
        REDIS_URL=redis_url,
        GEWE_API_BASE=sim.api_base,
        GEWE_TOKEN=SIM_TOKEN,
        SOP_TICK_SECONDS="0.5",
        SOP_DISPATCH_INTERVAL="0.2",
        SOP_LEADER_RETRY_SECONDS="0.5",
        SOP_CLAIM_LEASE_SECONDS="5",
        SOP_ECHO_GRACE_SECONDS="3",
        SOP_RETRY_BASE_SECONDS="1",
    )
    sent = lambda: len(sim.state.sent_messages())  # noqa: E731

    async def at_least(count: int) -> bool:
        return sent() >= count

    async def completed() -> bool:
        async with db.sessionmaker() as session:
            return await session.scalar(select(Sop.status).where(Sop.id == sop.id)) == "completed"

    with running({}) as workers:
        workers["a"] = start_salesbot("worker", env=env)
        workers["b"] = start_salesbot("worker", env=env)
        await wait_until(lambda: at_least(300), 120)
        workers["a"].send_signal(signal.SIGKILL)
        workers["a"].wait()
        await wait_until(lambda: at_least(600), 120)
        workers["c"] = start_salesbot("worker", env=env)
        await wait_until(completed, 180)

    received = sim.state.sent_messages()
    assert len(received) == ACCOUNTS * FRIENDS_PER_ACCOUNT * STEPS
    assert len({(message.to_wxid, message.content) for message in received}) == len(received)
    by_account: dict[str, list[float]] = defaultdict(list)
    by_chat: dict[str, list[float]] = defaultdict(list)
    for message in received:
        by_account[message.app_id].append(message.sent_at)
        by_chat[message.to_wxid].append(message.sent_at)
    for times in by_account.values():
        times.sort()
        busiest = max(
            sum(1 for other in times[index:] if other < start + PACING["window_seconds"])
            for index, start in enumerate(times)
        )
        assert len(times) == FRIENDS_PER_ACCOUNT * STEPS
        assert busiest <= PACING["per_minute_cap"]
    closest = min(later - earlier for times in by_chat.values() for earlier, later in pairwise(sorted(times)))
    assert closest >= PACING["min_gap_per_chat"]
