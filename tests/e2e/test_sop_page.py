"""Browser test of SOP acceptance 6: a manager starts a SOP from the console and watches its progress bars move live."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.auth.models import Role
from backend.core.db import Database, utcnow
from backend.sop import service
from backend.sop.models import Sop, SopDelivery
from backend.sop.schemas import SopIn
from tests.backend.accounts.support import Sim, make_account, settings, sim, sim_account
from tests.backend.sop.support import add_friends
from tests.e2e.test_console_smoke import SCREENSHOTS, run_browser_script

__all__ = ["make_account", "settings", "sim"]  # fixtures used here

# About six sends a second per account: the SOP takes a few seconds, long enough to watch the bars move.
VISIBLE_PACING = {"per_minute_cap": 1000, "min_gap_per_chat": 0.0, "switch_jitter": [0.15, 0.2], "daily_cap": None}


@pytest.mark.browser
async def test_progress_bars_move_live_while_a_started_sop_sends(
    live_server, sim: Sim, db: Database, make_org, make_account, make_user
) -> None:
    organization = await make_org()
    manager, password = await make_user(Role.manager, organization=organization)
    for index in range(2):
        remote = await sim_account(sim)
        account = await make_account(
            organization,
            app_id=remote["appId"],
            wxid=remote["wxid"],
            nickname=f"销售{index + 1}号",
            pacing=VISIBLE_PACING,
        )
        await add_friends(db, account, 25, tags=["会员日"], added_at=utcnow() - timedelta(days=3), prefix=f"a{index}_")
    async with db.sessionmaker() as session:
        sop = await service.create_sop(
            session,
            user=manager,
            body=SopIn.model_validate(
                {
                    "name": "会员日提醒",
                    "targets": {"tags": ["会员日"]},
                    "steps": [
                        {
                            "content": {"kind": "text", "text": "{称呼}，明天会员日全场9折"},
                            "timing": {"kind": "at", "at": utcnow().isoformat()},
                        }
                    ],
                }
            ),
        )
        await session.commit()
    code, log = await run_browser_script(
        "src/sop/e2e/sop-page.mjs",
        base_url=live_server.url,
        username=manager.username,
        password=password,
        env={"SOP_ID": str(sop.id), "SCREENSHOT": str(SCREENSHOTS / "sop-page-failure.png")},
    )
    assert code == 0, log
    async with db.sessionmaker() as session:
        statuses = list(await session.scalars(select(SopDelivery.status).where(SopDelivery.sop_id == sop.id)))
        final = await session.scalar(select(Sop.status).where(Sop.id == sop.id))
    assert statuses == ["sent"] * 50
    assert final in ("running", "completed")
    assert len(sim.state.sent_messages()) == 50
