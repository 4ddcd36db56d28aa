"""A worker that stops mid-delivery: its claim is handed back, and a send GeWe may have made is settled by the echo."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from backend.config import Settings
from backend.messages.models import Conversation, Message
from tests.backend.sop.support import SopWorld
from tests.fixtures.db import LiveServer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app only ingests here; the test drives SOP dispatch itself."""
    ingest_only = settings.model_copy(deep=True)
    ingest_only.sop.dispatch = False
    return ingest_only


async def _one_friend_sop(world: SopWorld) -> None:
    await world.add_friends(world.accounts[0], 1, tags=["A"])
    sop = await world.create({"name": "恢复", "targets": {"tags": ["A"]}, "steps": [world.step("您好，新品到店")]})
    await world.control("start", sop)
    world.sop = sop  # type: ignore[attr-defined]


async def test_a_send_gewe_took_before_the_worker_died_is_confirmed_by_its_echo_and_not_repeated(
    sop_world: SopWorld, live_server: LiveServer
) -> None:
    world = sop_world
    world.sim.state.config.echo_sends = True
    await world.sim.control.post(
        "/_sim/callbacks", json={"callbackUrl": f"{live_server.url}/callbacks/gewe/{world.accounts[0].callback_secret}"}
    )
    await _one_friend_sop(world)
    dispatcher = world.dispatcher()
    job = await dispatcher._claim(world.accounts[0].id)
    assert job is not None
    prepared = await dispatcher._prepare(job)
    assert prepared is not None
    # GeWe accepts the message; the worker dies before it can record that.
    await world.gateway.client(world.accounts[0]).post_text(
        world.remotes[0]["appId"], job.contact.wxid, job.content.text
    )

    async with asyncio.timeout(10):
        while True:
            async with world.db.sessionmaker() as session:
                if await session.scalar(select(Message.status).where(Message.id == prepared[1])) == "sent":
                    break
            await asyncio.sleep(0.05)
    world.clock.advance(seconds=world.sop_settings.claim_lease_seconds + 1)
    await world.runtime().leader_tick()
    await dispatcher.drain()

    [delivery] = await world.deliveries(world.sop)  # type: ignore[attr-defined]
    assert delivery.status == "sent"
    assert delivery.gewe_new_msg_id == world.received()[0].new_msg_id
    assert len(world.received()) == 1
    async with world.db.sessionmaker() as session:
        senders = list(await session.scalars(select(Message.sent_by)))
        mode = await session.scalar(select(Conversation.mode))
    assert senders == ["sop"]  # the echo was not taken for a message typed on the phone
    assert mode == "ai"


async def test_a_send_that_never_reached_gewe_is_sent_again_after_the_echo_grace(sop_world: SopWorld) -> None:
    world = sop_world
    await _one_friend_sop(world)
    dispatcher = world.dispatcher()
    job = await dispatcher._claim(world.accounts[0].id)
    assert job is not None
    assert await dispatcher._prepare(job) is not None  # the worker dies here, before calling GeWe

    world.clock.advance(seconds=world.sop_settings.claim_lease_seconds + 1)
    await world.runtime().leader_tick()
    [requeued] = await world.deliveries(world.sop)  # type: ignore[attr-defined]
    world.clock.advance(seconds=world.sop_settings.retry_base_seconds)
    await world.dispatcher().drain()

    [delivery] = await world.deliveries(world.sop)  # type: ignore[attr-defined]
    assert (requeued.status, requeued.attempts) == ("pending", 1)
    assert delivery.status == "sent"
    assert len(world.received()) == 1


async def test_a_claim_of_a_stopped_worker_is_handed_back_and_sent_by_another(sop_world: SopWorld) -> None:
    world = sop_world
    await _one_friend_sop(world)
    assert await world.dispatcher()._claim(world.accounts[0].id) is not None  # and then the worker dies

    await world.dispatcher().drain()
    assert world.received() == []
    world.clock.advance(seconds=world.sop_settings.claim_lease_seconds + 1)
    await world.runtime().leader_tick()
    await world.dispatcher().drain()

    [delivery] = await world.deliveries(world.sop)  # type: ignore[attr-defined]
    assert (delivery.status, delivery.attempts) == ("sent", 0)
    assert len(world.received()) == 1
