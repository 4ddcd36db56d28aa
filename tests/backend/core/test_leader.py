"""Leader election with a PostgreSQL advisory lock."""

from __future__ import annotations

import uuid

from backend.core.db import Database
from backend.core.leader import LeaderElection


async def test_only_one_instance_leads_at_a_time(db: Database) -> None:
    name = f"test:{uuid.uuid4()}"
    first, second = LeaderElection(db.engine, name), LeaderElection(db.engine, name)
    try:
        assert await first.attempt() is True
        assert await second.attempt() is False
        assert await first.attempt() is True
    finally:
        await first.stop()
        await second.stop()


async def test_another_instance_takes_over_when_the_leader_stops(db: Database) -> None:
    name = f"test:{uuid.uuid4()}"
    changes: list[bool] = []

    async def record(leading: bool) -> None:
        changes.append(leading)

    first, second = LeaderElection(db.engine, name, on_change=record), LeaderElection(db.engine, name)
    try:
        await first.attempt()
        await first.stop()
        assert await second.attempt() is True
        assert changes == [True, False]
    finally:
        await second.stop()
