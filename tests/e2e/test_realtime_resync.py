"""Browser test of the console's resync after a reconnect (GET /api/events?since=N replayed into the stores)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from backend.core.db import Database
from backend.realtime.models import RealtimeEvent
from tests.backend.accounts.support import Sim, make_account, settings, sim
from tests.e2e.support import sales_desk
from tests.e2e.test_console_smoke import SCREENSHOTS, run_browser_script

__all__ = ["make_account", "settings", "sim"]  # fixtures used here

MISSED_TEXT = "转人工，断线时发的退款问题"


@pytest.mark.browser
async def test_a_reconnected_console_replays_the_events_it_missed_without_a_reload(
    live_server, sim: Sim, db: Database, make_org, make_account, make_user
) -> None:
    desk = await sales_desk(live_server, sim, make_org, make_user, make_account)
    remote = desk.remote
    live_customer, missed_customer = (c["wxid"] for c in remote["contacts"][:2])
    inject = f"{sim.base_url}/_sim/inject"
    code, log = await run_browser_script(
        "e2e/resync.mjs",
        base_url=live_server.url,
        username=desk.user.username,
        password=desk.password,
        env={
            "LIVE_URL": inject,
            "LIVE_BODY": json.dumps({"appId": remote["appId"], "fromWxid": live_customer, "content": "转人工"}),
            "MISSED_URL": inject,
            "MISSED_BODY": json.dumps({"appId": remote["appId"], "fromWxid": missed_customer, "content": MISSED_TEXT}),
            "MISSED_TEXT": MISSED_TEXT,
            "MISSED_WXID": missed_customer,
            "SCREENSHOT": str(SCREENSHOTS / "resync-failure.png"),
        },
    )
    assert code == 0, log
    # What the console replayed is what the server numbered while it was cut off.
    async with db.sessionmaker() as session:
        types = list(
            await session.scalars(
                select(RealtimeEvent.type)
                .where(RealtimeEvent.organization_id == desk.organization.id)
                .order_by(RealtimeEvent.seq)
            )
        )
    assert types.count("handoff.requested") == 2, (types, log)
