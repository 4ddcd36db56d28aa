"""Browser test of acceptance 1: handoff toast, takeover, a person's reply reaching GeWe, release."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from backend.auth.models import Role
from tests.backend.accounts.support import Sim, make_account, settings, sim, sim_account
from tests.backend.conversations.support import FAST_PACING, sales_kb
from tests.e2e.test_console_smoke import FRONTEND, SCREENSHOTS, _browser_prerequisites

__all__ = ["make_account", "sales_kb", "settings", "sim"]  # fixtures used here


@pytest.mark.browser
async def test_sales_user_gets_the_handoff_toast_takes_over_replies_and_releases(
    live_server, sim: Sim, make_org, make_account, make_user, sales_kb
) -> None:
    chromium = _browser_prerequisites()
    organization = await make_org()
    user, password = await make_user(Role.sales, organization=organization)
    remote = await sim_account(sim)
    account = await make_account(
        organization, app_id=remote["appId"], wxid=remote["wxid"], owner_user_id=user.id, pacing=FAST_PACING
    )
    await sim.control.post(
        "/_sim/callbacks", json={"callbackUrl": f"{live_server.url}/callbacks/gewe/{account.callback_secret}"}
    )
    customer = remote["contacts"][0]["wxid"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        "node",
        "e2e/workbench.mjs",
        cwd=FRONTEND,
        env={
            **os.environ,
            "BASE_URL": live_server.url,
            "E2E_USERNAME": user.username,
            "E2E_PASSWORD": password,
            "TRIGGER_URL": f"{sim.base_url}/_sim/inject",
            "TRIGGER_BODY": json.dumps({"appId": remote["appId"], "fromWxid": customer, "content": "转人工"}),
            "SCREENSHOT": str(SCREENSHOTS / "workbench-failure.png"),
            "CHROMIUM_PATH": chromium,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    log = output.decode(errors="replace")
    assert process.returncode == 0, log
    sent = [m.content for m in sim.state.sent_messages(app_id=remote["appId"], to_wxid=customer)]
    assert "您好，我是人工客服小李" in sent, (sent, log)
