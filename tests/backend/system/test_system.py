"""Health, readiness, metrics and request ids."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.db import app_client


async def test_health_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


async def test_ready_checks_the_database(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/ready")).json()
    assert body["ok"] is True
    assert body["checks"]["database"]["ok"] is True
    assert "redis" not in body["checks"]


async def test_ready_checks_redis_when_configured(settings, db, redis_client, redis_url) -> None:
    redis_settings = settings.model_copy(deep=True)
    redis_settings.redis.url = redis_url
    async with app_client(redis_settings) as http:
        body = (await http.get("/api/ready")).json()
    assert body["checks"]["redis"]["ok"] is True


async def test_ready_is_503_when_redis_is_unreachable(settings, db) -> None:
    broken = settings.model_copy(deep=True)
    broken.redis.url = "redis://127.0.0.1:1/0"
    async with app_client(broken) as http:
        response = await http.get("/api/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


async def test_metrics_expose_request_counters(client: httpx.AsyncClient) -> None:
    await client.get("/api/health")
    text = (await client.get("/metrics")).text
    assert 'salesbot_http_requests_total{method="GET",route="/api/health",status="200"}' in text


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    generated = await client.get("/api/health")
    assert echoed.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32


async def _get(settings, path: str) -> httpx.Response:
    async with app_client(settings) as http:
        return await http.get(path)


@pytest.fixture
def built_console(settings, tmp_path):
    """Settings whose console dir holds a minimal built console."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<div id="app"></div>')
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    console_settings = settings.model_copy(deep=True)
    console_settings.server.console_dir = tmp_path
    return console_settings


@pytest.mark.parametrize("path", ["/", "/dashboard", "/users/123"])
async def test_console_routes_fall_back_to_index_html(built_console, path: str) -> None:
    response = await _get(built_console, path)
    assert response.status_code == 200
    assert '<div id="app">' in response.text


async def test_console_assets_are_served(built_console) -> None:
    response = await _get(built_console, "/assets/app.js")
    assert response.text == "console.log(1)"


async def test_console_does_not_serve_files_outside_its_dir(built_console) -> None:
    response = await _get(built_console, "/..%2F..%2Fetc%2Fpasswd")
    assert "root:" not in response.text


async def test_missing_console_build_is_explained(settings, tmp_path) -> None:
    missing = settings.model_copy(deep=True)
    missing.server.console_dir = tmp_path / "nowhere"
    response = await _get(missing, "/")
    assert response.status_code == 503
    assert "npm run build" in response.json()["error"]["message"]


async def test_access_log_never_contains_callback_secrets(client: httpx.AsyncClient, caplog) -> None:
    with caplog.at_level("INFO", logger="salesbot.access"):
        await client.post("/callbacks/gewe/s3cr3t-value-123", content=b"{}")
    assert caplog.records, "the request was not logged"
    assert all("s3cr3t-value-123" not in record.getMessage() for record in caplog.records)
