"""SOP API: definitions, validation, roles and organisation scoping, control, preview, targets, deliveries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from backend.auth.models import Role
from backend.contacts.models import Contact
from backend.core.db import Database
from backend.sop.models import SopDelivery
from tests.backend.sop.support import add_friends

STEP = {"content": {"kind": "text", "text": "{称呼}您好"}, "timing": {"kind": "at", "at": "2030-01-01T10:00:00+08:00"}}


def body(**fields: Any) -> dict[str, Any]:
    return {"name": "会员日", "targets": {"tags": ["VIP"]}, "steps": [STEP], **fields}


@pytest.fixture
async def manager(login, make_org):  # type: ignore[no-untyped-def]
    organization = await make_org()
    return organization, await login(Role.manager, organization=organization)


async def test_manager_creates_and_reads_a_sop(client: httpx.AsyncClient, manager) -> None:  # type: ignore[no-untyped-def]
    _, login = manager
    created = await client.post("/api/sops", json=body(), headers=login.headers)
    assert created.status_code == 201, created.text
    read = await client.get(f"/api/sops/{created.json()['id']}", headers=login.headers)
    listed = await client.get("/api/sops", headers=login.headers)
    assert read.json()["status"] == "draft"
    assert read.json()["steps"][0]["position"] == 1
    assert [sop["id"] for sop in listed.json()] == [created.json()["id"]]


async def test_sales_staff_cannot_manage_sops(client: httpx.AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    sales = await login(Role.sales)
    assert (await client.get("/api/sops", headers=sales.headers)).status_code == 403


async def test_another_organisations_sop_does_not_exist(client: httpx.AsyncClient, manager, login) -> None:  # type: ignore[no-untyped-def]
    _, owner = manager
    created = await client.post("/api/sops", json=body(), headers=owner.headers)
    stranger = await login(Role.manager)
    response = await client.post(f"/api/sops/{created.json()['id']}/start", headers=stranger.headers)
    assert response.status_code == 404
    assert (await client.get("/api/sops", headers=stranger.headers)).json() == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"steps": [{**STEP, "timing": {"kind": "cron", "cron": "0 25 * * *"}}]}, "invalid cron"),
        ({"steps": [{**STEP, "window_start": "09:00"}]}, "both window_start and window_end"),
        ({"steps": [{**STEP, "content": {"kind": "link", "title": "新品"}}]}, "a link step needs url"),
        ({"steps": [{**STEP, "timing": {"kind": "day_offset", "day": 2}}]}, "needs `day` and `time`"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"colour": "red"}, "colour"),
        ({"steps": []}, "at least 1"),
    ],
)
async def test_invalid_definitions_are_refused_with_the_reason(
    client: httpx.AsyncClient,
    manager,
    change: dict[str, Any],
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    _, login = manager
    response = await client.post("/api/sops", json=body(**change), headers=login.headers)
    assert response.status_code == 422
    assert reason in response.text


async def test_targeting_another_organisations_account_is_refused(
    client: httpx.AsyncClient,
    manager,
    make_org,
    make_account,  # type: ignore[no-untyped-def]
) -> None:
    _, login = manager
    foreign = await make_account(await make_org())
    response = await client.post(
        "/api/sops", json=body(targets={"account_ids": [str(foreign.id)]}), headers=login.headers
    )
    assert response.status_code == 404
    assert str(foreign.id) in response.json()["error"]["message"]


async def test_target_count_counts_friends_and_groups_per_account(
    client: httpx.AsyncClient,
    db: Database,
    manager,
    make_account,  # type: ignore[no-untyped-def]
) -> None:
    organization, login = manager
    account = await make_account(organization, nickname="一号")
    await add_friends(db, account, 3, tags=["VIP", "上海"])
    await add_friends(db, account, 2, tags=["VIP"])
    await add_friends(db, account, 1, tags=["VIP"], group=True, prefix="g")

    both = await client.post(
        "/api/sops/target-count", json={"tags": ["VIP", "上海"], "tag_mode": "all"}, headers=login.headers
    )
    everyone = await client.post(
        "/api/sops/target-count", json={"kinds": "all", "tags": ["VIP"]}, headers=login.headers
    )

    assert both.json() == {
        "total": 3,
        "accounts": [{"account_id": str(account.id), "nickname": "一号", "friends": 3, "groups": 0}],
    }
    assert everyone.json()["accounts"][0] | {"account_id": None} == {
        "account_id": None,
        "nickname": "一号",
        "friends": 5,
        "groups": 1,
    }


async def test_start_plans_every_delivery_and_a_second_start_conflicts(
    client: httpx.AsyncClient,
    db: Database,
    manager,
    make_account,  # type: ignore[no-untyped-def]
) -> None:
    organization, login = manager
    account = await make_account(organization)
    await add_friends(db, account, 4, tags=["VIP"])
    created = await client.post("/api/sops", json=body(steps=[STEP, STEP]), headers=login.headers)
    sop_id = created.json()["id"]

    started = await client.post(f"/api/sops/{sop_id}/start", headers=login.headers)
    again = await client.post(f"/api/sops/{sop_id}/start", headers=login.headers)
    edited = await client.put(f"/api/sops/{sop_id}", json=body(), headers=login.headers)

    assert started.json()["status"] == "running"
    assert started.json()["progress"]["totals"]["total"] == 8
    assert started.json()["progress"]["totals"]["pending"] == 8
    assert again.status_code == 409
    assert "cannot start a SOP that is running" in again.json()["error"]["message"]
    assert edited.status_code == 409


async def test_preview_estimates_duration_and_warns_about_the_daily_cap(
    client: httpx.AsyncClient,
    db: Database,
    manager,
    make_account,  # type: ignore[no-untyped-def]
) -> None:
    organization, login = manager
    account = await make_account(
        organization, nickname="一号", pacing={"per_minute_cap": 30, "daily_cap": 5, "switch_jitter": [1.0, 1.0]}
    )
    await add_friends(db, account, 4, tags=["VIP"])
    created = await client.post("/api/sops", json=body(steps=[STEP, STEP]), headers=login.headers)

    preview = (await client.get(f"/api/sops/{created.json()['id']}/preview", headers=login.headers)).json()

    [risk] = preview["accounts"]
    assert (preview["total_targets"], preview["total_messages"]) == (4, 8)
    assert (risk["per_minute_cap"], risk["daily_cap"], risk["days_needed"]) == (30, 5, 2)
    assert risk["estimated_seconds"] == 14.0  # 7 gaps of 2 s (30 a minute)
    assert any("超过今日剩余额度" in warning for warning in risk["warnings"])
    assert any("新设备" in warning for warning in risk["warnings"])
    assert preview["samples"][0]["steps"][0]["text"].endswith("您好")


async def test_a_target_preview_renders_the_variables(
    client: httpx.AsyncClient,
    db: Database,
    manager,
    make_account,  # type: ignore[no-untyped-def]
) -> None:
    organization, login = manager
    account = await make_account(organization)
    [contact] = await add_friends(db, account, 1, tags=["VIP"])
    async with db.sessionmaker() as session:
        await session.execute(update(Contact).where(Contact.id == contact.id).values(remark="王女士"))
        await session.commit()
    created = await client.post("/api/sops", json=body(), headers=login.headers)

    response = await client.get(f"/api/sops/{created.json()['id']}/targets/{contact.id}/preview", headers=login.headers)

    assert response.json()["steps"][0]["text"] == "王女士您好"


async def test_dead_letters_are_listed_and_retried(
    client: httpx.AsyncClient,
    db: Database,
    manager,
    make_account,  # type: ignore[no-untyped-def]
) -> None:
    organization, login = manager
    account = await make_account(organization, nickname="一号")
    await add_friends(db, account, 2, tags=["VIP"])
    sop_id = (await client.post("/api/sops", json=body(), headers=login.headers)).json()["id"]
    await client.post(f"/api/sops/{sop_id}/start", headers=login.headers)
    await client.post(f"/api/sops/{sop_id}/pause", headers=login.headers)
    async with db.sessionmaker() as session:
        await session.execute(update(SopDelivery).values(status="dead", attempts=5, error="GeWe: 系统异常"))
        await session.commit()

    dead = await client.get(f"/api/sops/{sop_id}/deliveries", params={"status": "dead"}, headers=login.headers)
    one = dead.json()["items"][0]
    retried = await client.post(f"/api/sops/{sop_id}/deliveries/{one['id']}/retry", headers=login.headers)
    missing = await client.post(f"/api/sops/{sop_id}/deliveries/{one['id']}/retry", headers=login.headers)
    rest = await client.post(f"/api/sops/{sop_id}/dead-letters/retry", headers=login.headers)

    assert (dead.json()["total"], one["error"], one["account_nickname"]) == (2, "GeWe: 系统异常", "一号")
    assert retried.json() == {"retried": 1}
    assert missing.status_code == 404
    assert rest.json() == {"retried": 1}


async def test_cancel_is_final(client: httpx.AsyncClient, manager) -> None:  # type: ignore[no-untyped-def]
    _, login = manager
    sop_id = (await client.post("/api/sops", json=body(), headers=login.headers)).json()["id"]
    cancelled = await client.post(f"/api/sops/{sop_id}/cancel", headers=login.headers)
    resumed = await client.post(f"/api/sops/{sop_id}/resume", headers=login.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert resumed.status_code == 409


@pytest.mark.parametrize(
    "change",
    [
        {"name": "会员日\x00"},
        {"steps": [{**STEP, "content": {"kind": "text", "text": "您好\x00"}}]},
        {"targets": {"tags": ["VIP\x00"]}},
        {"steps": [{**STEP, "stop_on_tags": ["退订\x00"]}]},
    ],
)
async def test_a_nul_character_in_sop_text_or_tags_is_422_at_the_edge(
    client: httpx.AsyncClient,
    manager,
    change: dict[str, Any],  # type: ignore[no-untyped-def]
) -> None:
    # Found by tests/backend/test_openapi_fuzz.py: PostgreSQL refused the NUL (once a 503, then the generic 422).
    _, login = manager
    response = await client.post("/api/sops", json=body(**change), headers=login.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "NUL" in response.json()["error"]["message"]


@pytest.mark.parametrize("listing", ["deliveries", "targets"])
async def test_a_page_offset_beyond_bigint_is_422(client: httpx.AsyncClient, manager, listing: str) -> None:  # type: ignore[no-untyped-def]
    _, login = manager
    created = await client.post("/api/sops", json=body(), headers=login.headers)
    response = await client.get(
        f"/api/sops/{created.json()['id']}/{listing}", params={"offset": 2**63}, headers=login.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_retrying_a_delivery_id_beyond_bigint_is_422(client: httpx.AsyncClient, manager) -> None:  # type: ignore[no-untyped-def]
    _, login = manager
    created = await client.post("/api/sops", json=body(), headers=login.headers)
    response = await client.post(f"/api/sops/{created.json()['id']}/deliveries/{2**63}/retry", headers=login.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
