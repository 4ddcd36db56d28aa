"""The mock CRM routes require the CRM API key; the client sends it; production never calls a real CRM without one."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from backend.agent.deps import crm_client
from backend.agent.models import Coupon
from backend.app import create_app
from backend.cli import app as cli_app
from backend.config import Settings
from backend.core.db import Database
from backend.crm import auth
from backend.crm.auth import crm_api_key
from backend.crm.client import CrmClient, CrmError
from backend.crm.schemas import CouponCreate
from tests.backend.crm.test_mock_crm import COUPON
from tests.fixtures.db import serve_app

CONFIGURED_KEY = "crm-key-" + "x7Qp2vLm9RtZ" * 3


@pytest.fixture
async def no_coupons_left(db: Database) -> AsyncIterator[None]:
    yield
    async with db.engine.begin() as conn:
        await conn.execute(text("TRUNCATE retail.coupons RESTART IDENTITY"))


async def coupon_count(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Coupon)) or 0)


def app_of(settings: Settings) -> Any:
    """What crm_client() needs of an app: its state with the settings."""
    return SimpleNamespace(state=SimpleNamespace(settings=settings))


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Token {key}", "{key}"],
    ids=["absent", "empty", "scheme-only", "blank-key", "basic", "other-scheme", "no-scheme"],
)
async def test_calls_without_a_bearer_key_are_401_and_change_nothing(
    app, client: httpx.AsyncClient, db: Database, authorization: str | None
) -> None:
    key = crm_api_key(app.other_asgi_app)
    headers = {} if authorization is None else {"Authorization": authorization.format(key=key)}
    created = await client.post("/mock/crm/coupons", json=COUPON, headers=headers)
    published = await client.post("/mock/crm/coupons/1/publish", headers=headers)
    for response in (created, published):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "crm_key_missing"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await coupon_count(db) == 0
    assert getattr(app.other_asgi_app.state, "mock_crm_calls", 0) == 0


@pytest.mark.parametrize(
    "wrong", ["wrong", "{key}x", "{key_prefix}", "{key_upper}"], ids=["other", "longer", "prefix", "case"]
)
async def test_a_wrong_key_is_401(app, client: httpx.AsyncClient, db: Database, wrong: str) -> None:
    key = crm_api_key(app.other_asgi_app)
    assert key
    presented = wrong.format(key=key, key_prefix=key[:-1], key_upper=key.upper())
    response = await client.post("/mock/crm/coupons", json=COUPON, headers={"Authorization": f"Bearer {presented}"})
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "crm_key_invalid", "message": "the CRM API key is wrong"}
    assert key not in response.text
    assert await coupon_count(db) == 0


async def test_the_key_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/mock/crm/coupons", json={"name": ""})
    assert response.status_code == 401


async def test_the_key_is_compared_in_constant_time(
    app, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, no_coupons_left
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    key = crm_api_key(app.other_asgi_app)
    assert key
    wrong = await client.post("/mock/crm/coupons", json=COUPON, headers={"Authorization": "Bearer nope"})
    right = await client.post("/mock/crm/coupons", json=COUPON, headers={"Authorization": f"Bearer {key}"})
    assert (wrong.status_code, right.status_code) == (401, 201)
    assert compared == [(b"nope", key.encode()), (key.encode(), key.encode())]


async def test_without_crm_api_key_each_app_generates_its_own_key_and_its_client_uses_it(
    app, settings: Settings, db: Database, no_coupons_left
) -> None:
    assert settings.integrations.crm_api_key is None
    fastapi_app = app.other_asgi_app
    key = crm_api_key(fastapi_app)
    assert key and len(key) >= 32 and crm_api_key(fastapi_app) == key
    assert crm_api_key(create_app(settings).other_asgi_app) != key  # another process, another key
    async with crm_client(fastapi_app) as crm:
        created = await crm.create_coupon(CouponCreate.model_validate(COUPON), idempotency_key="k1")
        published = await crm.publish_coupon(created.coupon_id, idempotency_key="k1")
    assert (created.status, published.status) == ("draft", "published")
    assert fastapi_app.state.mock_crm_calls == 2


async def test_a_configured_crm_api_key_is_required_by_the_mock_and_sent_by_the_client(
    settings: Settings, db: Database, no_coupons_left
) -> None:
    configured = settings.model_copy(deep=True)
    configured.integrations.crm_api_key = CONFIGURED_KEY
    asgi = create_app(configured)
    fastapi_app = asgi.other_asgi_app
    async with fastapi_app.router.lifespan_context(fastapi_app):
        assert crm_api_key(fastapi_app) == CONFIGURED_KEY
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            refused = await http.post("/mock/crm/coupons", json=COUPON, headers={"Authorization": "Bearer generated?"})
            accepted = await http.post(
                "/mock/crm/coupons", json=COUPON, headers={"Authorization": f"Bearer {CONFIGURED_KEY}"}
            )
        assert (refused.status_code, accepted.status_code) == (401, 201)
        async with crm_client(fastapi_app) as crm:
            created = await crm.create_coupon(CouponCreate.model_validate(COUPON), idempotency_key="k2")
        assert created.status == "draft"


async def test_with_a_real_crm_the_client_sends_the_configured_key_over_http(
    settings: Settings, db: Database, no_coupons_left
) -> None:
    # The "real" CRM: another app over TCP whose mock routes require the configured key.
    crm_settings = settings.model_copy(deep=True)
    crm_settings.integrations.crm_api_key = CONFIGURED_KEY
    async with serve_app(crm_settings) as crm_server:
        production = settings.model_copy(deep=True)
        production.integrations.crm_base_url = crm_server.url
        production.integrations.crm_api_key = CONFIGURED_KEY
        async with crm_client(app_of(production)) as crm:
            created = await crm.create_coupon(CouponCreate.model_validate(COUPON), idempotency_key="k3")
            published = await crm.publish_coupon(created.coupon_id, idempotency_key="k3")
        assert published.status == "published"

        production.integrations.crm_api_key = "not-the-crm-key-" + "a1b2c3d4" * 3
        async with crm_client(app_of(production)) as crm:
            with pytest.raises(CrmError, match="401"):
                await crm.create_coupon(CouponCreate.model_validate(COUPON), idempotency_key="k4")


async def test_with_a_real_crm_and_no_key_the_client_sends_nothing(settings: Settings) -> None:
    production = settings.model_copy(deep=True)
    production.integrations.crm_base_url = "http://crm.example.invalid"
    assert crm_api_key(app_of(production)) is None
    async with crm_client(app_of(production)) as crm:
        with pytest.raises(CrmError, match="CRM_API_KEY"):
            await crm.create_coupon(CouponCreate.model_validate(COUPON), idempotency_key="k5")

    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(201))
    async with CrmClient("http://crm.test", require_api_key=True, transport=transport) as crm:
        with pytest.raises(CrmError, match="no CRM API key"):
            await crm.publish_coupon(1, idempotency_key="k6")
    assert sent == []


async def test_the_mock_stays_disabled_when_crm_base_url_is_set_even_with_the_key(
    settings: Settings, db: Database
) -> None:
    production = settings.model_copy(deep=True)
    production.integrations.crm_base_url = "http://crm.example.invalid"
    production.integrations.crm_api_key = CONFIGURED_KEY
    asgi = create_app(production)
    fastapi_app = asgi.other_asgi_app
    async with (
        fastapi_app.router.lifespan_context(fastapi_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://testserver") as http,
    ):
        response = await http.post(
            "/mock/crm/coupons", json=COUPON, headers={"Authorization": f"Bearer {CONFIGURED_KEY}"}
        )
    assert response.status_code == 404
    assert "CRM_BASE_URL" in response.json()["error"]["message"]


@pytest.mark.parametrize("mode", ["serve", "worker"])
def test_production_settings_refuse_a_real_crm_without_a_key(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("CRM_BASE_URL", "https://crm.example.com/api")
    monkeypatch.delenv("CRM_API_KEY", raising=False)
    with pytest.raises(ValidationError, match="CRM_API_KEY must be set"):
        Settings(SALESBOT_MODE=mode)
    monkeypatch.setenv("CRM_API_KEY", CONFIGURED_KEY)
    assert Settings(SALESBOT_MODE=mode).integrations.crm_api_key == CONFIGURED_KEY


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_demo_and_test_settings_accept_a_real_crm_without_a_key(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("CRM_BASE_URL", "https://crm.example.com/api")
    monkeypatch.delenv("CRM_API_KEY", raising=False)
    assert Settings(SALESBOT_MODE=mode).integrations.crm_api_key is None


def test_salesbot_serve_refuses_to_start_with_a_real_crm_and_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_BASE_URL", "https://crm.example.com/api")
    monkeypatch.delenv("CRM_API_KEY", raising=False)
    result = CliRunner().invoke(cli_app, ["serve"])
    assert result.exit_code != 0
    assert "CRM_API_KEY must be set" in result.output
