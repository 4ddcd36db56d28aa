"""The callback fast path answers like the route and keeps request ids, metrics and the body limit."""

from __future__ import annotations

import json

import httpx
import pytest

from backend.accounts.models import Account
from backend.core.metrics import HTTP_REQUESTS
from tests.backend.ingest.payloads import add_msg


@pytest.fixture
async def account(make_org, make_account) -> Account:
    """A logged-in account of a fresh organisation."""
    created: Account = await make_account(await make_org(), app_id="wx_fastpath0000000001", wxid="wxid_fastpath01")
    return created


def _callback(account: Account) -> bytes:
    payload = add_msg("wx_fastpath0000000001", from_wxid="wxid_customer01", to_wxid="wxid_fastpath01", content="在吗")
    return json.dumps(payload).encode()


async def test_a_callback_answer_carries_the_request_id_it_came_with(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        f"/callbacks/gewe/{account.callback_secret}", content=_callback(account), headers={"X-Request-ID": "gewe-42"}
    )
    assert (response.status_code, response.json(), response.headers["x-request-id"]) == (200, {"ok": True}, "gewe-42")


async def test_callback_metrics_are_labelled_with_the_route_template_not_the_secret(
    client: httpx.AsyncClient, account: Account
) -> None:
    before = HTTP_REQUESTS.labels("POST", "/callbacks/gewe/{secret}", "200")._value.get()
    await client.post(f"/callbacks/gewe/{account.callback_secret}", content=_callback(account))
    assert HTTP_REQUESTS.labels("POST", "/callbacks/gewe/{secret}", "200")._value.get() == before + 1


async def test_an_oversized_callback_is_refused_with_413(client: httpx.AsyncClient, account: Account, settings) -> None:
    body = b"x" * (settings.server.callback_max_body_bytes + 1)
    response = await client.post(f"/callbacks/gewe/{account.callback_secret}", content=body)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")


async def test_a_get_on_the_callback_path_is_left_to_the_router(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get(f"/callbacks/gewe/{account.callback_secret}")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
