"""The workbench API on real rows: organisation isolation, lists, search, notes, tags, policy."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from backend.auth.models import Role
from backend.core.db import Database, utcnow
from backend.messages.models import Conversation, Message
from backend.organizations.models import Organization


@pytest.fixture
def make_conversation(db: Database, make_account):  # type: ignore[no-untyped-def]
    """Factory: an account of the organisation and a conversation with some customer messages."""

    async def make(organization: Organization, *texts: str, mode: str = "ai") -> Conversation:
        account = await make_account(organization, app_id="wx_" + uuid.uuid4().hex[:12], wxid="wxid_me")
        async with db.sessionmaker() as session:
            conversation = Conversation(
                organization_id=organization.id,
                account_id=account.id,
                chat_wxid="wxid_customer_" + uuid.uuid4().hex[:6],
                mode=mode,
                holder="ai" if mode == "ai" else "none",
                last_message_at=utcnow(),
            )
            session.add(conversation)
            await session.flush()
            for text in texts:
                session.add(
                    Message(
                        organization_id=organization.id,
                        account_id=account.id,
                        conversation_id=conversation.id,
                        new_msg_id=uuid.uuid4().hex,
                        kind="text",
                        direction="in",
                        sent_by="customer",
                        text=text,
                        status="received",
                    )
                )
            await session.commit()
            return conversation

    return make


ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("GET", "/messages", None),
    ("POST", "/takeover", {}),
    ("POST", "/release", {}),
    ("POST", "/resolve", None),
    ("POST", "/read", None),
    ("POST", "/messages", {"kind": "text", "text": "hi"}),
    ("POST", "/notes", {"text": "note"}),
    ("PUT", "/tags", {"tags": ["VIP"]}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ACTIONS)
async def test_staff_of_another_organisation_get_404_for_every_action(
    client, login, make_org, make_conversation, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    conversation = await make_conversation(await make_org(), "你好")
    stranger = await login(Role.sales)
    response = await client.request(
        method, f"/api/conversations/{conversation.id}{suffix}", json=body, headers=stranger.headers
    )
    assert response.status_code == 404


async def test_the_list_shows_only_the_users_organisation(client, login, make_org, make_conversation) -> None:
    ours, theirs = await make_org(), await make_org()
    mine = await make_conversation(ours, "你好")
    await make_conversation(theirs, "你好")
    sales = await login(Role.sales, organization=ours)
    response = await client.get("/api/conversations", headers=sales.headers)
    assert [item["id"] for item in response.json()["items"]] == [str(mine.id)]


async def test_finance_users_cannot_open_the_workbench(client, login) -> None:
    finance = await login(Role.finance)
    assert (await client.get("/api/conversations", headers=finance.headers)).status_code == 403


async def test_waiting_filter_lists_only_pending_conversations(client, login, make_org, make_conversation) -> None:
    organization = await make_org()
    await make_conversation(organization, "a")
    waiting = await make_conversation(organization, "b", mode="pending_human")
    sales = await login(Role.sales, organization=organization)
    response = await client.get("/api/conversations", params={"filter": "waiting"}, headers=sales.headers)
    assert [item["id"] for item in response.json()["items"]] == [str(waiting.id)]


async def test_search_finds_a_chinese_substring_only_in_the_users_organisation(
    client, login, make_org, make_conversation
) -> None:
    ours, theirs = await make_org(), await make_org()
    await make_conversation(ours, "上次买的羊毛大衣有点起球", "谢谢")
    await make_conversation(theirs, "羊毛大衣还有货吗")
    sales = await login(Role.sales, organization=ours)
    response = await client.get("/api/messages/search", params={"q": "大衣有点"}, headers=sales.headers)
    assert [item["text"] for item in response.json()["items"]] == ["上次买的羊毛大衣有点起球"]


async def test_search_treats_percent_as_a_character(client, login, make_org, make_conversation) -> None:
    organization = await make_org()
    await make_conversation(organization, "能便宜10%吗", "能便宜10块吗")
    sales = await login(Role.sales, organization=organization)
    response = await client.get("/api/messages/search", params={"q": "10%"}, headers=sales.headers)
    assert [item["text"] for item in response.json()["items"]] == ["能便宜10%吗"]


async def test_notes_and_tags_are_kept_on_the_conversation(client, login, make_org, make_conversation) -> None:
    organization = await make_org()
    conversation = await make_conversation(organization, "你好")
    sales = await login(Role.sales, organization=organization)
    base = f"/api/conversations/{conversation.id}"
    assert (await client.post(f"{base}/notes", json={"text": "客户想要红色"}, headers=sales.headers)).status_code == 201
    tagged = await client.put(f"{base}/tags", json={"tags": ["VIP", " 老客 ", "VIP"]}, headers=sales.headers)
    assert tagged.json()["contact"]["tags"] == ["VIP", "老客"]
    detail = (await client.get(base, headers=sales.headers)).json()
    assert [note["text"] for note in detail["notes"]] == ["客户想要红色"]


async def test_policy_rejects_unknown_settings_with_a_reason(client, login) -> None:
    manager = await login(Role.manager)
    response = await client.put(
        "/api/conversations/policy", json={"settings": {"handoff_keyword": ["人工"]}}, headers=manager.headers
    )
    assert response.status_code == 422
    assert "handoff_keyword" in response.json()["error"]["message"]


async def test_account_policy_overrides_the_organisation_policy(client, login, make_account) -> None:
    manager = await login(Role.manager)
    account = await make_account(manager.user.organization)
    await client.put(
        "/api/conversations/policy", json={"settings": {"idle_release_minutes": 10}}, headers=manager.headers
    )
    await client.put(
        "/api/conversations/policy",
        params={"account_id": str(account.id)},
        json={"settings": {"idle_release_minutes": 3}},
        headers=manager.headers,
    )
    org = (await client.get("/api/conversations/policy", headers=manager.headers)).json()
    own = (
        await client.get("/api/conversations/policy", params={"account_id": str(account.id)}, headers=manager.headers)
    ).json()
    assert org["effective"]["idle_release_minutes"] == 10
    assert own["effective"]["idle_release_minutes"] == 3


@pytest.mark.parametrize(
    "path",
    ["/messages?before_id=99999999999999999999", "/decisions/99999999999999999999"],
    ids=["before_id", "decision_id"],
)
async def test_message_and_decision_ids_beyond_bigint_are_422(client, login, path: str) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: asyncpg could not bind the id (out of int64 range), 503.
    manager = await login(Role.manager)
    response = await client.get(f"/api/conversations/{uuid.uuid4()}{path}", headers=manager.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("suffix", "method", "body"),
    [
        ("/notes", "POST", {"text": "客户\x00想要红色"}),
        ("/tags", "PUT", {"tags": ["VIP\x00"]}),
        ("/takeover", "POST", {"reason": "\x00"}),
        ("/messages", "POST", {"kind": "text", "text": "您好\x00"}),
    ],
    ids=["note", "tag", "reason", "staff-message"],
)
async def test_a_nul_character_in_workbench_text_is_422_at_the_edge(
    client, login, make_org, make_conversation, suffix: str, method: str, body: dict[str, Any]
) -> None:
    organization = await make_org()
    conversation = await make_conversation(organization, "你好")
    sales = await login(Role.sales, organization=organization)
    response = await client.request(
        method, f"/api/conversations/{conversation.id}{suffix}", json=body, headers=sales.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "NUL" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "policy", [{"handoff_keywords": ["人工\x00"]}, {"handoff_ack_text": "\x00"}], ids=["list-item", "text"]
)
async def test_a_nul_character_in_policy_settings_is_422_at_the_edge(client, login, policy: dict[str, Any]) -> None:
    # jsonb cannot hold \u0000: PostgreSQL refused it (the generic 422 invalid_value before).
    manager = await login(Role.manager)
    response = await client.put("/api/conversations/policy", json={"settings": policy}, headers=manager.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_a_nul_character_in_the_search_query_is_422_at_the_edge(client, login) -> None:
    sales = await login(Role.sales)
    response = await client.get("/api/messages/search", params={"q": "大衣\x00"}, headers=sales.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
