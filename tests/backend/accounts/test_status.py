"""Status tracking: checkOnline notices a dropped account, reconnection with back-off, then re-login needed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from backend.accounts.gewe import GeweGateway, token_cipher
from backend.accounts.models import Account, AccountStatus
from backend.accounts.service import RELOGIN_NEEDED
from backend.accounts.status import StatusMonitor
from backend.core.leader import LeaderElection
from backend.ingest.runtime import ChannelRuntime
from backend.realtime.models import RealtimeEvent
from tests.backend.accounts.support import sim_account


async def _commit(session) -> None:  # type: ignore[no-untyped-def]
    await session.commit()


@asynccontextmanager
async def _monitors(settings, db, count: int = 1, *, elected: bool = False) -> AsyncIterator[list[StatusMonitor]]:  # type: ignore[no-untyped-def]
    """`count` monitors, each with its own GeWe gateway (`elected`: sharing one leader lock), stopped afterwards."""
    lock = f"test:account-status:{uuid.uuid4()}"
    monitors = [
        StatusMonitor(
            db.sessionmaker,
            GeweGateway(settings.gewe, token_cipher(settings.security)),
            commit=_commit,
            interval=0,
            reconnect_delays=(0, 0, 0),
            leader=LeaderElection(db.engine, lock) if elected else None,
        )
        for _ in range(count)
    ]
    try:
        yield monitors
    finally:
        for monitor in monitors:
            await monitor.stop()
            await monitor.gateway.aclose()


async def _status(db, account: Account) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    async with db.sessionmaker() as session:
        row = (
            await session.execute(select(Account.status, Account.status_detail).where(Account.id == account.id))
        ).one()
    return row[0], row[1]


async def test_failed_reconnections_leave_account_offline_needing_a_new_qr_login(
    settings, db, sim, make_org, make_account
) -> None:
    remote = await sim_account(sim)
    account = await make_account(
        await make_org(), app_id=remote["appId"], wxid=remote["wxid"], status=AccountStatus.offline
    )
    await sim.control.post(f"/_sim/accounts/{remote['appId']}/offline")
    await sim.control.post("/_sim/failures", json={"reconnectFails": True})
    async with _monitors(settings, db) as [monitor]:
        assert await monitor.reconnect(account.id) is False
    assert await _status(db, account) == ("offline", RELOGIN_NEEDED)
    assert [call.path for call in sim.state.calls].count("/login/reconnection") == 3


async def test_successful_reconnection_brings_account_back_online(settings, db, sim, make_org, make_account) -> None:
    remote = await sim_account(sim)
    account = await make_account(
        await make_org(), app_id=remote["appId"], wxid=remote["wxid"], status=AccountStatus.offline
    )
    await sim.control.post(f"/_sim/accounts/{remote['appId']}/offline")
    async with _monitors(settings, db) as [monitor]:
        assert await monitor.reconnect(account.id) is True
    assert await _status(db, account) == ("online", "")


async def test_check_online_notices_a_dropped_account_and_publishes_device_status(
    settings, db, sim, make_org, make_account
) -> None:
    remote = await sim_account(sim)
    await make_account(await make_org(), app_id=remote["appId"], wxid=remote["wxid"])
    await sim.control.post(f"/_sim/accounts/{remote['appId']}/offline")
    await sim.control.post("/_sim/failures", json={"reconnectFails": True})
    async with _monitors(settings, db) as [monitor]:
        await monitor.check_all()
        await monitor.settle()
    async with db.sessionmaker() as session:
        events = (await session.scalars(select(RealtimeEvent.data).where(RealtimeEvent.type == "device.status"))).all()
    assert [(e["status"], e["status_detail"]) for e in events][-1] == ("offline", RELOGIN_NEEDED)
    assert events[0]["status"] == "offline"


def _check_online_calls(sim) -> int:  # type: ignore[no-untyped-def]
    return [call.path for call in sim.state.calls].count("/login/checkOnline")


async def test_only_the_elected_process_checks_whether_accounts_are_online(
    settings, db, sim, make_org, make_account
) -> None:
    remote = await sim_account(sim)
    await make_account(await make_org(), app_id=remote["appId"], wxid=remote["wxid"])
    async with _monitors(settings, db, 2, elected=True) as [first, second]:
        assert [await first.leader.attempt(), await second.leader.attempt()] == [True, False]  # type: ignore[union-attr]
        await first.check_all()
        await second.check_all()
    assert _check_online_calls(sim) == 1


async def test_another_process_takes_the_checks_over_when_the_leader_stops(
    settings, db, sim, make_org, make_account
) -> None:
    remote = await sim_account(sim)
    await make_account(await make_org(), app_id=remote["appId"], wxid=remote["wxid"])
    async with _monitors(settings, db, 2, elected=True) as [first, second]:
        await first.leader.attempt()  # type: ignore[union-attr]
        await first.stop()
        assert await second.leader.attempt() is True  # type: ignore[union-attr]
        await second.check_all()
    assert _check_online_calls(sim) == 1


@pytest.mark.parametrize(("with_redis", "elected"), [(False, False), (True, True)], ids=["single", "scale-out"])
async def test_status_checks_are_elected_only_when_processes_share_redis(
    settings, db, redis_url: str, with_redis: bool, elected: bool
) -> None:
    redis = aioredis.Redis.from_url(redis_url) if with_redis else None
    runtime = ChannelRuntime(settings, db, redis=redis)
    try:
        assert isinstance(runtime.monitor.leader, LeaderElection) is elected
    finally:
        await runtime.stop()
        if redis is not None:
            await redis.aclose()
