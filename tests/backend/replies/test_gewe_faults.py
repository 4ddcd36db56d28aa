"""GeWe failing under an AI reply: a 5xx fails the reply visibly and is not retried; a timeout is never sent twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.config import Settings
from backend.messages.models import Message
from tests.backend.accounts.support import wait_until
from tests.backend.conversations.support import Workbench


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """GeWe calls time out after half a second."""
    impatient = settings.model_copy(deep=True)
    impatient.gewe.timeout_seconds = 0.5
    return impatient


async def _ai_message(workbench: Workbench, status: str) -> Message:
    """The AI's reply once it reached `status`."""
    found: list[Message] = []

    async def reached() -> bool:
        async with workbench.db.sessionmaker() as session:
            found[:] = list(await session.scalars(select(Message).where(Message.sent_by == "ai")))
        return bool(found) and found[0].status == status

    await wait_until(reached, 15)
    return found[0]


async def test_a_gewe_server_error_fails_the_ai_reply_visibly_without_sending_twice(workbench: Workbench) -> None:
    await workbench.sim.control.post("/_sim/failures", json={"http500": 1})

    await workbench.say("护手霜多少钱？")
    message = await _ai_message(workbench, "failed")
    page = (await workbench.api.get(f"/api/conversations/{message.conversation_id}/messages")).json()
    shown = next(item for item in page["items"] if item["id"] == message.id)
    assert (shown["status"], bool(shown["error"])) == ("failed", True)
    assert workbench.sent_to() == []
    sends = [call for call in workbench.sim.state.calls if call.path.endswith("/message/postText")]
    assert len(sends) == 1


async def test_a_gewe_timeout_after_the_send_is_confirmed_by_the_echo_and_not_repeated(workbench: Workbench) -> None:
    workbench.sim.state.config.echo_sends = True
    await workbench.sim.control.post("/_sim/failures", json={"slow": 1, "slowSeconds": 1.5})

    await workbench.say("护手霜多少钱？")
    message = await _ai_message(workbench, "sent")  # confirmed by the echo of the slow send

    assert len(workbench.sent_to()) == 1
    assert message.echoed_at is not None
    assert (await workbench.conversation()).mode == "ai"  # the echo was not taken for a message typed on the phone


async def test_gewe_saying_too_often_fails_the_reply_visibly_and_pauses_the_account(workbench: Workbench) -> None:
    await workbench.sim.control.post("/_sim/failures", json={"tooOften": 1})

    await workbench.say("护手霜多少钱？")
    message = await _ai_message(workbench, "failed")

    assert message.error and workbench.sent_to() == []
    pause = await workbench.server.state.pacer.reserve(str(workbench.account.id), "wxid_next_customer")
    assert pause > 30  # the account rests (back-off) before its next send, whatever the chat
