"""Scripted customers: they answer what the account sends and start conversations."""

from __future__ import annotations

import random
from typing import Any

from bots.gewe import EventKind, GeweClient, parse_callback
from bots.simulator.customers import LINES, Intent, Persona, opening_line, reply_line


async def test_scripted_customer_replies_to_a_sent_message(
    make_simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    async with make_simulator(scripted_customers=True) as sim, GeweClient(sim.api_base) as client:
        await client.get_token_id()
        await client.set_callback(callback_receiver.url)
        account = sim.state.create_account()
        customer = next(iter(account.contacts))
        await client.post_text(account.app_id, customer, "您好，请问想看什么款式？")
        await wait_until(lambda: bool(callback_receiver.of_type("AddMsg")))
    event = parse_callback(callback_receiver.of_type("AddMsg")[0], account_wxid=account.wxid)
    assert (event.kind, event.chat_id, event.is_self_sent) == (EventKind.TEXT, customer, False)
    assert event.text


async def test_customers_stay_quiet_when_switched_off(
    make_simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    async with make_simulator(scripted_customers=True) as sim, GeweClient(sim.api_base) as client:
        await client.get_token_id()
        await client.set_callback(callback_receiver.url)
        await sim.control.post("/_sim/customers", json={"enabled": False})
        account = sim.state.create_account()
        await client.post_text(account.app_id, next(iter(account.contacts)), "在吗")
        await wait_until(lambda: bool(callback_receiver.received))  # the setCallback test packet
        await wait_until(lambda: not sim.state.busy, limit=2.0)
    assert callback_receiver.of_type("AddMsg") == []


async def test_start_conversation_posts_a_customer_opener(
    make_simulator: Any, callback_receiver: Any, wait_until: Any
) -> None:
    async with make_simulator(scripted_customers=True, callback_url=callback_receiver.url) as sim:
        account = sim.state.create_account()
        await sim.control.post("/_sim/customers", json={"startConversation": True})
        await wait_until(lambda: bool(callback_receiver.of_type("AddMsg")))
    event = parse_callback(callback_receiver.of_type("AddMsg")[0], account_wxid=account.wxid)
    assert event.kind is EventKind.TEXT
    assert event.sender_wxid in account.contacts


def test_same_seed_gives_the_same_conversation() -> None:
    def conversation(seed: int) -> list[str | None]:
        rng = random.Random(seed)
        persona = Persona(style="chatty", favourite_products=("连衣裙", "围巾"), max_turns=5)
        return [opening_line(persona, rng)] + [reply_line(persona, "您好", rng) for _ in range(5)]

    assert conversation(3) == conversation(3)


def test_customer_stops_after_max_turns() -> None:
    persona = Persona(style="bargainer", favourite_products=("卫衣", "面膜"), max_turns=3)
    rng = random.Random(0)
    opening_line(persona, rng)
    replies = [reply_line(persona, "好的", rng) for _ in range(4)]
    assert [reply is None for reply in replies] == [False, False, True, True]


def test_human_handoff_and_complaint_lines_exist_for_the_demo() -> None:
    assert any("转人工" in line for line in LINES[Intent.HUMAN])
    assert any("投诉" in line for line in LINES[Intent.COMPLAINT])
