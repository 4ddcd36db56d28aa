"""Issue 8 fault handling: PostgreSQL restart, Redis restart, SIGTERM of an app process (injected for real)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from sqlalchemy import func, select

from backend.accounts.models import Account
from backend.auth.models import Role
from backend.auth.service import create_user
from backend.config import Settings
from backend.core.db import Database
from backend.core.embedded_pg import EmbeddedPostgres
from backend.core.runtime import create_database_if_missing, migrate
from backend.ingest.models import InboxEntry
from backend.messages.models import Message
from backend.organizations.service import get_or_create
from tests.backend.accounts.support import SIM_TOKEN, Sim, make_account, settings, sim, sim_account, wait_until
from tests.backend.ingest.test_live import Listener
from tests.conftest import require_service
from tests.fixtures.db import free_port, serve_app
from tests.fixtures.processes import process_env, running, start_salesbot, wait_healthy

__all__ = ["make_account", "settings", "sim"]  # fixtures used here


def callback(app_id: str, account_wxid: str, customer: str, text: str) -> dict[str, Any]:
    """A GeWe text-message callback with a fresh newMsgId."""
    new_msg_id = str(uuid.uuid4().int % 10**19)
    return {
        "TypeName": "AddMsg",
        "Appid": app_id,
        "Wxid": account_wxid,
        "Data": {
            "MsgId": int(new_msg_id[:9]),
            "FromUserName": {"string": customer},
            "ToUserName": {"string": account_wxid},
            "MsgType": 1,
            "Content": {"string": text},
            "CreateTime": int(time.time()),
            "NewMsgId": int(new_msg_id),
        },
    }


async def _seed(url: str, sim: Sim) -> tuple[Account, dict[str, Any], str]:
    """An organisation, an admin and an account logged in on the simulator, in the database at `url`."""
    remote = await sim_account(sim)
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            organization = await get_or_create(session, name=f"故障 {uuid.uuid4().hex[:6]}")
            await create_user(
                session, organization_id=organization.id, username="ops", password="ops-password-1", role=Role.admin
            )
            account = Account(
                organization_id=organization.id,
                app_id=remote["appId"],
                wxid=remote["wxid"],
                status="online",
                callback_secret=uuid.uuid4().hex,
                ai_enabled=False,
            )
            session.add(account)
            await session.commit()
            return account, remote, "ops-password-1"
    finally:
        await database.dispose()


async def _count(url: str, statement: Any) -> int:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            return int(await session.scalar(statement) or 0)
    finally:
        await database.dispose()


async def test_postgres_down_answers_503_and_callbacks_retried_later_are_stored_once(
    tmp_path: Path, settings: Settings, sim: Sim
) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    server_url = await asyncio.to_thread(server.start)
    try:
        await create_database_if_missing(server_url, "faults")
        url = server.url("faults")
        await asyncio.to_thread(migrate, url)
        account, remote, password = await _seed(url, sim)
        private = settings.model_copy(deep=True)
        private.database.url = url
        body = callback(remote["appId"], remote["wxid"], remote["contacts"][0]["wxid"], "数据库挂了还能收到吗")
        async with serve_app(private) as app, httpx.AsyncClient(base_url=app.url, timeout=10) as http:
            token = (await http.post("/api/auth/login", json={"username": "ops", "password": password})).json()[
                "access_token"
            ]
            await asyncio.to_thread(server.stop)
            while_down = await http.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
            callback_down = await http.post(f"/callbacks/gewe/{account.callback_secret}", json=body)
            health = await http.get("/api/health")
            await asyncio.to_thread(server.start)
            # GeWe retries a callback that did not get a 200; the retry (twice, as it may) is stored once.
            retried = [await http.post(f"/callbacks/gewe/{account.callback_secret}", json=body) for _ in range(2)]

            async def stored() -> bool:
                return (
                    await _count(url, select(func.count()).select_from(Message).where(Message.account_id == account.id))
                    == 1
                )

            await wait_until(stored, 20)
        inbox = await _count(
            url, select(func.count()).select_from(InboxEntry).where(InboxEntry.account_id == account.id)
        )
    finally:
        await asyncio.to_thread(server.stop)
    assert (while_down.status_code, while_down.json()["error"]["code"]) == (503, "service_unavailable")
    assert callback_down.status_code == 503
    assert health.status_code == 200
    assert [response.status_code for response in retried] == [200, 200]
    assert inbox == 1


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A private redis-server (no persistence) on a port, stopped at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        require_service("redis-server", "install Debian's redis-server")
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _redis_up(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    await client.ping()
                    return
                except (ConnectionError, OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def test_after_a_redis_restart_callbacks_accepted_meanwhile_are_processed_and_events_resume(
    settings: Settings, sim: Sim, db, make_org, make_account, login
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    organization = await make_org()
    sales = await login(Role.sales, organization=organization)
    remote = await sim_account(sim)
    account = await make_account(organization, app_id=remote["appId"], wxid=remote["wxid"], ai_enabled=False)
    customer = remote["contacts"][0]["wxid"]
    shared = settings.model_copy(deep=True)
    shared.redis.url = url
    shared.ingest.sweep_stale_seconds, shared.ingest.sweep_interval_seconds = 1.0, 0.5
    with redis_server(port) as first_redis:
        await _redis_up(url)
        async with serve_app(shared) as app:
            await sim.control.post(
                "/_sim/callbacks",
                json={"appId": remote["appId"], "callbackUrl": f"{app.url}/callbacks/gewe/{account.callback_secret}"},
            )
            console = Listener()
            await console.client.connect(app.url, auth={"token": sales.access_token}, transports=["websocket"])
            try:
                await sim.control.post(
                    "/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": "第一条"}
                )
                await console.wait_for("message.new")
                first_redis.terminate()
                first_redis.wait(timeout=10)
                await sim.control.post(
                    "/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": "第二条"}
                )
                accepted_while_down = [delivery.status for delivery in sim.state.deliveries][-1]
                with redis_server(port):
                    await _redis_up(url)

                    async def both_shown() -> bool:
                        texts = [event["data"]["text"] for event in console.received.get("message.new", [])]
                        return "第二条" in texts

                    await wait_until(both_shown, 40)
            finally:
                await console.client.disconnect()
    async with db.sessionmaker() as session:
        texts = list(
            await session.scalars(select(Message.text).where(Message.account_id == account.id).order_by(Message.id))
        )
    assert accepted_while_down == 200  # stored in PostgreSQL before the answer, Redis or not
    assert texts == ["第一条", "第二条"]


async def test_sigterm_finishes_accepted_callbacks_and_a_restart_processes_every_one(
    settings: Settings, sim: Sim, db, make_org, make_account
) -> None:
    organization = await make_org()
    remote = await sim_account(sim)
    account = await make_account(organization, app_id=remote["appId"], wxid=remote["wxid"], ai_enabled=False)
    customer = remote["contacts"][0]["wxid"]
    env = process_env(
        DATABASE_URL=settings.database.url or "",
        GEWE_API_BASE=sim.api_base,
        GEWE_TOKEN=SIM_TOKEN,
        INGEST_SWEEP_STALE_SECONDS="1",
        INGEST_SWEEP_INTERVAL_SECONDS="0.5",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bodies = [callback(remote["appId"], remote["wxid"], customer, f"第{index}条") for index in range(150)]

    async def post(http: httpx.AsyncClient, body: dict[str, Any]) -> int | None:
        try:
            return (await http.post(f"/callbacks/gewe/{account.callback_secret}", json=body)).status_code
        except httpx.TransportError:
            return None  # refused once shutting down: GeWe retries it

    with running({}) as processes:
        processes["api"] = start_salesbot("serve", "--port", str(port), env=env)
        await asyncio.to_thread(wait_healthy, url, processes["api"])
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            sending = [asyncio.create_task(post(http, body)) for body in bodies]
            await asyncio.sleep(0.3)
            processes["api"].send_signal(signal.SIGTERM)
            answers = await asyncio.gather(*sending)
            exit_code = await asyncio.to_thread(processes["api"].wait, 30)
        acked = {
            body["Data"]["Content"]["string"] for body, answer in zip(bodies, answers, strict=True) if answer == 200
        }
        processes["again"] = start_salesbot("serve", "--port", str(port), env=env)
        await asyncio.to_thread(wait_healthy, url, processes["again"])

        async def every_acked_callback_is_a_message() -> bool:
            async with db.sessionmaker() as session:
                stored = set(await session.scalars(select(Message.text).where(Message.account_id == account.id)))
            return acked <= stored

        await wait_until(every_acked_callback_is_a_message, 30)
    assert exit_code == 0
    assert acked  # some were accepted before the signal
    texts = await _texts(db, account.id)
    assert len(texts) == len(set(texts))  # nothing stored twice


async def _texts(db: Database, account_id: uuid.UUID) -> list[str]:
    async with db.sessionmaker() as session:
        return list(await session.scalars(select(Message.text).where(Message.account_id == account_id)))
