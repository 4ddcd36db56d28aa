"""The inbox repository: concurrent callbacks are group-committed, each caller learns its own outcome."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from backend.accounts.models import Account
from backend.core.db import Database
from backend.ingest.repository import AccountGone, InboxRepository


@pytest.fixture
async def account(make_org, make_account) -> Account:
    """A logged-in account of a fresh organisation."""
    created: Account = await make_account(await make_org())
    return created


@pytest.fixture
async def repository(db: Database):
    """A repository on the test database, closed after the test."""
    repository = InboxRepository(db.url)
    yield repository
    await repository.close()


def _row(account: Account) -> dict[str, Any]:
    return {
        "organization_id": account.organization_id,
        "account_id": account.id,
        "kind": "text",
        "lane_key": "wxid_customer",
        "raw": "{}",
        "state": "accepted",
    }


def _insert(repository: InboxRepository, account: Account, key: str) -> asyncio.Task[int | None]:
    return asyncio.create_task(repository.insert(dedupe_key=key, **_row(account)))


async def test_concurrent_callbacks_get_ids_in_arrival_order(repository: InboxRepository, account: Account) -> None:
    ids = await asyncio.gather(*(_insert(repository, account, f"msg-{n}") for n in range(60)))
    assert None not in ids
    assert ids == sorted(ids) and len(set(ids)) == 60


async def test_a_key_arriving_twice_in_one_batch_is_stored_once(repository: InboxRepository, account: Account) -> None:
    results = await asyncio.gather(*(_insert(repository, account, key) for key in ("a", "b", "a", "c", "a")))
    assert [result is None for result in results] == [False, False, True, False, True]


async def test_a_gone_account_fails_only_its_own_callback(repository: InboxRepository, account: Account) -> None:
    ghost = Account(id=uuid.uuid4(), organization_id=account.organization_id)
    tasks = [
        _insert(repository, account, "first"),
        _insert(repository, ghost, "ghost"),
        _insert(repository, account, "last"),
    ]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], AccountGone)
    assert isinstance(results[0], int) and isinstance(results[2], int)


async def test_a_callback_already_stored_earlier_is_reported_as_duplicate(
    repository: InboxRepository, account: Account
) -> None:
    await _insert(repository, account, "late-redelivery")
    assert await _insert(repository, account, "late-redelivery") is None


async def test_a_callback_queued_as_the_last_writer_finishes_is_still_written(db: Database, account: Account) -> None:
    # The first caller resumes before the finished writer's task is done with: its next row must not be left
    # waiting for a writer that will never come (the callback would hang until another one arrived).
    repository = InboxRepository(db.url, writers=1)
    try:
        # Awaited directly, not through a task: the caller must resume in the writer's last step.
        assert await repository.insert(dedupe_key="first", **_row(account)) is not None
        async with asyncio.timeout(5):
            assert await repository.insert(dedupe_key="second", **_row(account)) is not None
    finally:
        await repository.close()
