"""Browser test of acceptance 1: handoff toast, takeover, a person's reply reaching GeWe, release."""

from __future__ import annotations

import json

import pytest

from tests.backend.accounts.support import Sim, make_account, settings, sim
from tests.backend.conversations.support import sales_kb
from tests.e2e.support import sales_desk
from tests.e2e.test_console_smoke import SCREENSHOTS, run_browser_script

__all__ = ["make_account", "sales_kb", "settings", "sim"]  # fixtures used here

# The customer asks for a person with markup that would run if the console rendered messages as HTML.
HOSTILE_HANDOFF = '转人工 <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.mark.browser
async def test_sales_user_gets_the_handoff_toast_sees_markup_inert_takes_over_replies_and_releases(
    live_server, sim: Sim, make_org, make_account, make_user, sales_kb
) -> None:
    desk = await sales_desk(live_server, sim, make_org, make_user, make_account)
    remote = desk.remote
    customer = remote["contacts"][0]["wxid"]
    code, log = await run_browser_script(
        "e2e/workbench.mjs",
        base_url=live_server.url,
        username=desk.user.username,
        password=desk.password,
        env={
            "TRIGGER_URL": f"{sim.base_url}/_sim/inject",
            "TRIGGER_BODY": json.dumps({"appId": remote["appId"], "fromWxid": customer, "content": HOSTILE_HANDOFF}),
            "SCREENSHOT": str(SCREENSHOTS / "workbench-failure.png"),
        },
    )
    assert code == 0, log
    sent = [m.content for m in sim.state.sent_messages(app_id=remote["appId"], to_wxid=customer)]
    assert "您好，我是人工客服小李" in sent, (sent, log)
