"""Browser: a finance user opens the built console's cost page and sees the real ledger's totals and ECharts."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from backend.auth.models import Role
from backend.cost import service
from backend.cost.schemas import BudgetIn
from backend.llm import CallContext
from tests.conftest import require_service
from tests.e2e.test_console_smoke import FRONTEND, SCREENSHOTS, run_browser_script
from tests.fixtures.llm_stub import LLMStub, Reply, insert_price, stub_provider

SCRIPT = FRONTEND / "src" / "cost" / "e2e" / "cost-page.mjs"


@pytest.mark.browser
async def test_finance_page_renders_totals_echarts_and_ledger_from_real_data(
    live_server, make_user, make_gateway, db, llm_stub: LLMStub
) -> None:
    assets = live_server.settings.server.console_dir / "assets"
    if not any("cost-gauges" in chunk.read_text() for chunk in assets.glob("CostPage-*.js")):
        require_service("a console build with the finance page", "run `npm run build` in vue-frontend")
    finance, password = await make_user(Role.finance)
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=100)  # 0.0023 CNY a call
    gateway = make_gateway(stub_provider(llm_stub))
    account = uuid.uuid4()
    for _ in range(3):
        await gateway.chat(
            [{"role": "user", "content": "你好"}],
            purpose="reply",
            context=CallContext(finance.organization_id, account_id=account),
        )
    async with db.sessionmaker() as session:
        # 0.0069 of 0.01: 69%, one gauge.
        body = BudgetIn(name="月度预算", quota=Decimal("0.01"))
        await service.create_budget(session, organization_id=finance.organization_id, actor_id=finance.id, body=body)
        await session.commit()
    code, log = await run_browser_script(
        str(SCRIPT),
        base_url=live_server.url,
        username=finance.username,
        password=password,
        env={
            "E2E_EXPECT_TOTAL": "¥0.0069",
            "E2E_EXPECT_ROWS": "3",
            "E2E_EXPECT_POINTS": "30",  # 30 days x 1 model in the stacked spend chart
            "E2E_EXPECT_ACCOUNTS": "1",
            "E2E_EXPECT_GAUGES": "1",
            "E2E_SCREENSHOT_DIR": str(SCREENSHOTS),
        },
    )
    assert code == 0, log
    assert "1 gauge(s)" in log
