"""Benchmark: callback-to-AI-send latency (offline provider) and callback-to-`message.new` latency at 500 msg/s.

Run: `python tests/perf/reply/bench_reply.py [--replies 200] [--rate 500] [--seconds 4] [--warmup 1]`.
The app runs as a uvicorn subprocess on a throw-away database (see tests/perf/support.py) with the
sales starter KB; the GeWe simulator and the Socket.IO client run here. Pacing is switched off for the
benchmark account (pacer delays are excluded by design). The message.new run sends `--warmup` seconds at
the same rate first, unmeasured but reported apart: that is when its 100 customers' conversations are created
and handed to people (the load account has the AI off); the measured seconds start once all of its events
have arrived. Baselines measured in the same run:
- a bare endpoint that answers each callback by calling the simulator's postText at once (same hops, no work);
- a bare python-socketio server that emits each callback to the client at once (same hops, no storage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
import socketio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT))

from tests.perf.support import median, percentile, scratch_database, server_process, table_row  # noqa: E402 - needs the repository on sys.path first

if TYPE_CHECKING:
    from bots.simulator import SimulatorState

SIM_TOKEN = "bench-sim-token"
LOAD_APP_ID = "wx_benchload000000000001"
LOAD_WXID = "wxid_benchload01"
NO_PACING = {"per_minute_cap": 1_000_000, "min_gap_per_chat": 0.0, "switch_jitter": [0.0, 0.0], "daily_cap": None}


def serve(kind: str, port: int) -> None:
    """Subprocess entry: the salesbot app or one of the bare baselines."""
    import uvicorn

    if kind == "bare-send":
        bare = FastAPI()
        http = httpx.AsyncClient(base_url=os.environ["BENCH_SIM_API"], headers={"X-GEWE-TOKEN": SIM_TOKEN})

        @bare.post("/callbacks/gewe/{secret}")
        async def answer(secret: str, request: Request) -> JSONResponse:
            payload = json.loads(await request.body())
            if payload.get("TypeName") == "AddMsg":
                body = {
                    "appId": payload["Appid"],
                    "toWxid": payload["Data"]["FromUserName"]["string"],
                    "content": "好的",
                }
                await http.post("/message/postText", json=body)
            return JSONResponse({"ok": True})

        uvicorn.run(bare, host="127.0.0.1", port=port, log_level="warning")
        return
    if kind == "bare-emit":
        sio = socketio.AsyncServer(async_mode="asgi")
        api = FastAPI()

        @api.post("/callbacks/gewe/{secret}")
        async def emit(secret: str, request: Request) -> JSONResponse:
            data = json.loads(await request.body())["Data"]
            await sio.emit("message.new", {"data": {"text": data["Content"]["string"]}})
            return JSONResponse({"ok": True})

        uvicorn.run(socketio.ASGIApp(sio, api), host="127.0.0.1", port=port, log_level="warning")
        return
    from backend.app import create_app
    from backend.config import Settings

    settings = Settings(SALESBOT_MODE="test")
    settings.database.url = os.environ["BENCH_DATABASE_URL"]
    settings.security.jwt_secret = os.environ["BENCH_JWT_SECRET"]
    settings.gewe.api_base, settings.gewe.token = os.environ["BENCH_SIM_API"], SIM_TOKEN
    settings.server.log_level = "WARNING"
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning", log_config=None)


def summary(values: list[float]) -> str:
    """p50/p95/p99 in milliseconds."""
    return (
        f"p50 {median(values):6.1f} ms   p95 {percentile(values, 0.95):6.1f} ms   "
        f"p99 {percentile(values, 0.99):6.1f} ms   n={len(values)}"
    )


async def prepare(database_url: str, remote: dict[str, Any]) -> dict[str, Any]:
    """Organisation, sales user, the AI account (simulated) and the load account; loads the sales KB."""
    from backend.accounts.models import Account
    from backend.agent import kb
    from backend.agent.embedder import get_embedder
    from backend.auth.models import Role
    from backend.auth.service import create_user
    from backend.core.db import Database
    from backend.organizations.service import get_or_create
    from backend.replies.knowledge import SALES_STARTER_DIR

    database = Database(database_url)
    try:
        await kb.load_documents(database.engine, get_embedder(None), kb.read_directory(SALES_STARTER_DIR))
        async with database.sessionmaker() as session:
            organization = await get_or_create(session, name="Bench Co.")
            user = await create_user(
                session, organization_id=organization.id, username="bench_sales", password="x" * 12, role=Role.sales
            )
            ai_secret, load_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            session.add_all(
                [
                    Account(
                        organization_id=organization.id,
                        app_id=remote["appId"],
                        wxid=remote["wxid"],
                        callback_secret=ai_secret,
                        pacing=NO_PACING,
                    ),
                    Account(
                        organization_id=organization.id,
                        app_id=LOAD_APP_ID,
                        wxid=LOAD_WXID,
                        callback_secret=load_secret,
                        ai_enabled=False,
                        pacing=NO_PACING,
                    ),
                ]
            )
            await session.commit()
            return {
                "user_id": user.id,
                "organization_id": organization.id,
                "ai_secret": ai_secret,
                "load_secret": load_secret,
            }
    finally:
        await database.dispose()


async def reply_latencies(
    state: SimulatorState, control: httpx.AsyncClient, remote: dict[str, Any], count: int, *, question: str
) -> list[float]:
    """One customer message at a time (distinct customers): inject time to the simulator's record of the reply.

    The simulator runs in this process: its record is read in memory. (Asking it over HTTP every 2 ms kept a core
    of this 2-core machine busy and slowed the servers being measured.)
    """
    latencies: list[float] = []
    for index in range(count):
        customer = f"wxid_benchbuyer{uuid.uuid4().hex[:10]}"
        await control.post("/_sim/friends", json={"appId": remote["appId"], "wxid": customer})
        started = time.time()
        await control.post("/_sim/inject", json={"appId": remote["appId"], "fromWxid": customer, "content": question})
        deadline = time.monotonic() + 20
        while not (sent := state.sent_messages(app_id=remote["appId"], to_wxid=customer)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no reply to message {index}")
            await asyncio.sleep(0.002)
        latencies.append((sent[0].sent_at - started) * 1000)
    return latencies


def load_bodies(count: int) -> list[bytes]:
    """AddMsg callbacks to the load account from 100 customers, each text carrying its index."""
    now = int(time.time())
    return [
        json.dumps(
            {
                "TypeName": "AddMsg",
                "Appid": LOAD_APP_ID,
                "Wxid": LOAD_WXID,
                "Data": {
                    "MsgId": index,
                    "NewMsgId": 8_000_000_000_000_000_000 + index,
                    "FromUserName": {"string": f"wxid_loadcust{index % 100:03d}"},
                    "ToUserName": {"string": LOAD_WXID},
                    "MsgType": 1,
                    "Content": {"string": f"#{index} 请问还有货吗"},
                    "CreateTime": now,
                    "MsgSource": "<msgsource></msgsource>",
                },
            },
            ensure_ascii=False,
        ).encode()
        for index in range(count)
    ]


async def event_latencies(
    base_url: str, secret: str, token: str | None, rate: float, seconds: float, *, warmup_seconds: float = 0.0
) -> tuple[list[float], list[float]]:
    """Post callbacks at `rate`/s; latency from each POST to its `message.new` at a connected Socket.IO client.

    The first `warmup_seconds` run at the same rate, unmeasured (their latencies are returned apart): the 100
    customers' conversations are created and handed to people then. The measured seconds start once every
    warm-up event has arrived, so they measure the steady state, not the warm-up's backlog draining.
    """
    warmup = int(rate * warmup_seconds)
    count = warmup + int(rate * seconds)
    bodies = load_bodies(count)
    posted: dict[int, float] = {}
    arrived: dict[int, float] = {}
    warmed_up, done = asyncio.Event(), asyncio.Event()
    client = socketio.AsyncClient(reconnection=False)

    @client.on("message.new")
    async def on_message(envelope: dict[str, Any]) -> None:
        text = envelope["data"]["text"]
        index = int(text[1 : text.index(" ")])
        arrived.setdefault(index, time.perf_counter())
        if len(arrived) >= warmup:
            warmed_up.set()
        if len(arrived) >= count:
            done.set()

    await client.connect(base_url, auth={"token": token} if token else None, transports=["websocket"])
    url = f"{base_url}/callbacks/gewe/{secret}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http:

        async def post(index: int, body: bytes) -> None:
            posted[index] = time.perf_counter()
            async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()

        async def post_paced(first: int, last: int) -> None:
            began = time.perf_counter()
            tasks = []
            for index in range(first, last):
                delay = began + (index - first) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post(index, bodies[index])))
            await asyncio.gather(*tasks)

        await post_paced(0, warmup)
        with suppress(TimeoutError):
            await asyncio.wait_for(warmed_up.wait(), timeout=60)
        await post_paced(warmup, count)
        with suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=60)
    await client.disconnect()
    missing = count - len(arrived)
    if missing:
        print(f"  ({missing} of {count} events did not arrive within 60 s)")
    latencies = {index: (arrived[index] - posted[index]) * 1000 for index in arrived}
    return [ms for index, ms in latencies.items() if index < warmup], [
        ms for index, ms in latencies.items() if index >= warmup
    ]


async def run(args: argparse.Namespace, database_url: str) -> None:
    """Start the simulator here, then measure both figures against their baselines."""
    from backend.core.security import issue_token
    from bots.simulator import SimulatorConfig, SimulatorState, create_simulator_app
    from bots.simulator.server import serve_in_loop

    state = SimulatorState(SimulatorConfig(token=SIM_TOKEN, seed=3, scripted_customers=False, friends_per_account=2))
    async with serve_in_loop(create_simulator_app(state)) as sim_url, httpx.AsyncClient(base_url=sim_url) as control:
        remote = (await control.post("/_sim/accounts", json={"online": True})).json()
        jwt_secret = secrets.token_urlsafe(40)
        ids = await prepare(database_url, remote)
        token, _ = issue_token(
            secret=jwt_secret,
            user_id=ids["user_id"],
            organization_id=ids["organization_id"],
            role="sales",
            kind="access",
            ttl_seconds=3600,
        )
        env = {
            "BENCH_DATABASE_URL": database_url,
            "BENCH_JWT_SECRET": jwt_secret,
            "BENCH_SIM_API": sim_url + state.config.base_path,
            "BENCH_APP_ID": remote["appId"],
        }
        results: dict[str, list[float]] = {}
        for kind, secret in (("bare-send", "bare"), ("app", ids["ai_secret"])):
            with server_process(Path(__file__), kind, env=env) as base_url:
                await control.post("/_sim/callbacks", json={"callbackUrl": f"{base_url}/callbacks/gewe/{secret}"})
                await reply_latencies(state, control, remote, 10, question="卫衣多少钱？")  # warm-up
                results[kind] = await reply_latencies(state, control, remote, args.replies, question="卫衣多少钱？")
        for kind, secret, auth in (("bare-emit", "bare", None), ("app", ids["load_secret"], token)):
            with server_process(Path(__file__), kind, env=env) as base_url:
                results[f"{kind}-warmup"], results[f"{kind}-events"] = await event_latencies(
                    base_url, secret, auth, args.rate, args.seconds, warmup_seconds=args.warmup
                )
    print(
        f"\ncallback -> AI reply sent (offline provider, KB retrieval, pacing off), {args.replies} messages one by one"
    )
    print(f"  bare endpoint (postText at once)   {summary(results['bare-send'])}")
    print(f"  salesbot                           {summary(results['app'])}")
    print(
        f"  p95 ratio salesbot / bare: {percentile(results['app'], 0.95) / percentile(results['bare-send'], 0.95):.2f}"
    )
    print(
        f"\ncallback -> message.new at a Socket.IO client, {args.rate:.0f} msg/s for {args.seconds:.0f} s "
        f"after {args.warmup:.0f} s unmeasured at the same rate"
    )
    print(f"  bare python-socketio emit          {summary(results['bare-emit-events'])}")
    print(f"  salesbot                           {summary(results['app-events'])}")
    if results["app-warmup"]:
        print(f"  salesbot, warm-up (100 new chats)  {summary(results['app-warmup'])}")
    bare_p99 = percentile(results["bare-emit-events"], 0.99)
    print(f"  p99 ratio salesbot / bare: {percentile(results['app-events'], 0.99) / bare_p99:.2f}")
    table_row(
        "callback -> AI reply sent, p95",
        percentile(results["app"], 0.95),
        "bare endpoint calling postText",
        percentile(results["bare-send"], 0.95),
        "ms",
    )
    table_row(
        f"callback -> message.new at {args.rate:.0f}/s, p99",
        percentile(results["app-events"], 0.99),
        "bare python-socketio emit",
        bare_p99,
        "ms",
    )


def main() -> None:
    """Parse arguments; run the benchmark or serve one of its servers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds at the same rate first")
    parser.add_argument("--serve", choices=["app", "bare-send", "bare-emit"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    with scratch_database() as database_url:
        asyncio.run(run(args, database_url))


if __name__ == "__main__":
    main()
