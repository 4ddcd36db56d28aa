"""Status tracking: periodic checkOnline of online accounts (on one elected process) and reconnection with back-off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.accounts import service
from backend.accounts.gewe import GeweGateway, gewe_message
from backend.accounts.models import Account, AccountStatus
from backend.core.db import CommitFn
from backend.core.leader import LeaderElection
from backend.core.periodic import Periodic
from bots.gewe import GeweError

logger = logging.getLogger(__name__)
LEADER_LOCK = "salesbot:account-status"


class StatusMonitor:
    """Keeps account statuses true: checkOnline every `interval` seconds, reconnect when an account drops.

    With a `leader` election (several processes share the database), only the process that leads checks;
    without one (a single instance) this process always does. Reconnections run wherever a drop is noticed.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        gateway: GeweGateway,
        *,
        commit: CommitFn,
        interval: float = 60.0,
        reconnect_delays: Sequence[float] = (5.0, 15.0, 45.0),
        leader: LeaderElection | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.leader = leader
        self.gateway = gateway
        self.commit = commit
        self.interval = interval
        self.reconnect_delays = tuple(reconnect_delays)
        self._checks = Periodic(self.check_all, interval=interval, name="account status check")
        self._reconnects: dict[uuid.UUID, asyncio.Task[bool]] = {}

    async def check_all(self) -> None:
        """Ask GeWe whether each online account still is (on the leader only); start reconnecting those that are not."""
        if not self.gateway.api_base or (self.leader is not None and not self.leader.is_leader):
            return
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Account.id, Account.app_id).where(
                        Account.status == AccountStatus.online, Account.app_id.is_not(None)
                    )
                )
            ).all()
        for account_id, app_id in rows:
            app_id = str(app_id)
            try:
                async with self.sessionmaker() as session:
                    account = await session.get(Account, account_id)
                    online = await self.gateway.client(account).check_online(app_id) if account else True
            except GeweError as exc:
                logger.warning("checkOnline of account %s failed: %s", account_id, gewe_message(exc))
                continue
            if not online:
                await self._set(account_id, AccountStatus.offline, "checkOnline: 已离线，正在重连")
                self.request_reconnect(account_id)

    def request_reconnect(self, account_id: uuid.UUID) -> None:
        """Start reconnecting an account in the background (once at a time per account)."""
        running = self._reconnects.get(account_id)
        if running is None or running.done():
            self._reconnects[account_id] = asyncio.create_task(self.reconnect(account_id))

    async def settle(self) -> None:
        """Wait for the reconnection attempts under way."""
        await asyncio.gather(*self._reconnects.values(), return_exceptions=True)

    async def reconnect(self, account_id: uuid.UUID) -> bool:
        """Try /login/reconnection with back-off; online on success, else offline asking for a new QR login."""
        for delay in self.reconnect_delays:
            await asyncio.sleep(delay)
            async with self.sessionmaker() as session:
                account = await session.get(Account, account_id)
                if account is None or not account.app_id or account.status == AccountStatus.online:
                    return account is not None and account.status == AccountStatus.online
                client = self.gateway.client(account)
                app_id = account.app_id
            try:
                await client.reconnect(app_id)
                if await client.check_online(app_id):
                    await self._set(account_id, AccountStatus.online, "")
                    return True
            except GeweError as exc:
                logger.warning("reconnection of account %s failed: %s", account_id, gewe_message(exc))
        await self._set(account_id, AccountStatus.offline, service.RELOGIN_NEEDED)
        return False

    async def _set(self, account_id: uuid.UUID, status: AccountStatus, detail: str) -> None:
        async with self.sessionmaker() as session:
            account = await session.get(Account, account_id, with_for_update=True)
            if account is not None:
                await service.set_status(session, account=account, status=status, detail=detail)
            await self.commit(session)

    async def start(self) -> None:
        """Check every `interval` seconds in the background (and compete for leading the checks)."""
        if self.leader is not None:
            self.leader.start()
        self._checks.start()

    async def stop(self) -> None:
        """Stop checking and reconnecting; give up leading the checks."""
        await self._checks.stop()
        if self.leader is not None:
            await self.leader.stop()
        tasks = list(self._reconnects.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._reconnects.clear()
