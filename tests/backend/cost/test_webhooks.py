"""Budget webhooks cannot be aimed at internal addresses (SSRF): checked when saved and again when sent."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from backend.auth.models import Role
from backend.config import Settings
from backend.cost import webhooks
from backend.cost.models import Budget
from backend.llm import CallContext
from tests.fixtures.db import app_client
from tests.fixtures.llm_stub import LLMStub, Reply, add_budget, insert_price, stub_provider

ALERT = {"level": "hard", "name": "月度预算"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost:8000/hook",  # a name: resolved, then checked
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_a_budget_webhook_aimed_at_a_non_public_address_is_422(
    client: httpx.AsyncClient, login, url: str
) -> None:
    finance = await login(Role.finance)
    response = await client.post(
        "/api/cost/budgets", headers=finance.headers, json={"name": "月度", "quota": "50", "webhook_url": url}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "unsafe_webhook_url"
    assert "public address" in response.json()["error"]["message"]


async def test_a_budget_webhook_with_credentials_in_the_url_is_422(client: httpx.AsyncClient, login) -> None:
    finance = await login(Role.finance)
    response = await client.post(
        "/api/cost/budgets",
        headers=finance.headers,
        json={"name": "月度", "quota": "50", "webhook_url": "https://bot:secret@hooks.example.com/budget"},
    )
    assert response.status_code == 422
    assert "credentials" in response.json()["error"]["message"]


async def test_a_budget_webhook_that_is_not_http_is_422(client: httpx.AsyncClient, login) -> None:
    finance = await login(Role.finance)
    response = await client.post(
        "/api/cost/budgets",
        headers=finance.headers,
        json={"name": "月度", "quota": "50", "webhook_url": "file:///etc/passwd"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_patching_a_budget_webhook_to_a_private_address_is_422_and_keeps_the_old_one(
    client: httpx.AsyncClient, login
) -> None:
    finance = await login(Role.finance)
    created = await client.post(
        "/api/cost/budgets",
        headers=finance.headers,
        json={"name": "月度", "quota": "50", "webhook_url": "https://1.1.1.1/budget"},
    )
    budget_id = created.json()["id"]
    patched = await client.patch(
        f"/api/cost/budgets/{budget_id}", headers=finance.headers, json={"webhook_url": "http://10.1.2.3/hook"}
    )
    assert patched.status_code == 422
    fetched = await client.get(f"/api/cost/budgets/{budget_id}", headers=finance.headers)
    assert fetched.json()["webhook_url"] == "https://1.1.1.1/budget"


async def test_private_webhooks_are_accepted_when_webhook_allow_private_is_set(settings: Settings, login, db) -> None:
    allowed = settings.model_copy(deep=True)
    allowed.security.webhook_allow_private = True
    finance = await login(Role.finance)
    async with app_client(allowed) as client:
        response = await client.post(
            "/api/cost/budgets",
            headers=finance.headers,
            json={"name": "月度", "quota": "50", "webhook_url": "http://127.0.0.1:9000/hook"},
        )
    assert response.status_code == 201, response.text


async def test_a_webhook_host_resolving_to_a_private_address_at_send_time_gets_nothing(llm_stub: LLMStub) -> None:
    # The name may have resolved to a public address when the budget was saved (DNS rebinding): checked again.
    url = llm_stub.url.replace("127.0.0.1", "localhost") + "/webhook"
    delivered = await webhooks.deliver(url, ALERT, attempts=1)
    assert delivered is False
    assert llm_stub.webhooks == []


async def test_a_webhook_is_sent_to_the_checked_address_under_the_urls_own_host_name(llm_stub: LLMStub) -> None:
    url = llm_stub.url.replace("127.0.0.1", "localhost") + "/webhook"
    delivered = await webhooks.deliver(url, ALERT, attempts=1, allow_private=True)
    assert delivered is True
    assert llm_stub.webhooks == [ALERT]
    assert llm_stub.webhook_hosts == [url.split("/")[2]]  # localhost:<port>, not the address connected to


async def test_a_budget_alert_is_not_posted_to_a_loopback_webhook_by_default(
    db, make_org, make_gateway, llm_stub: LLMStub
) -> None:
    await insert_price(
        db, provider="deepseek", model="deepseek-chat", input_rate="2", cached_rate="0.2", output_rate="3"
    )
    org = await make_org()
    # Stored before the check existed, or by hand.
    await add_budget(db, org.id, quota=Decimal("0.002"), webhook_url=f"{llm_stub.url}/webhook")
    llm_stub.default = Reply(prompt_tokens=1000, completion_tokens=0)
    gateway = make_gateway(stub_provider(llm_stub))

    await gateway.chat([{"role": "user", "content": "在吗"}], purpose="reply", context=CallContext(org.id))
    await gateway.wait_idle()

    assert llm_stub.webhooks == []
    async with db.sessionmaker() as session:
        assert await session.scalar(select(Budget.webhook_url)) == f"{llm_stub.url}/webhook"
