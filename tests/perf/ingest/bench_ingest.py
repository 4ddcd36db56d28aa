"""Benchmark: GeWe callbacks accepted per second and accept latency, against a bare FastAPI endpoint.

Run: `python tests/perf/ingest/bench_ingest.py [--requests 3000] [--concurrency 32] [--rate 1000] [--rounds 3]`.
Uses the PostgreSQL server at BENCH_DATABASE_URL / TEST_DATABASE_URL / DATABASE_URL (else embedded
PostgreSQL under var/bench-pg) with a throw-away database. Servers run as separate uvicorn processes, the
load generator here: first salesbot with in-process workers alone (one run, then it drains its backlog), then
the bare endpoint and salesbot accepting only, both started and measured in turn, round after round. With
BENCH_REDIS_URL every process uses that Redis and a `salesbot worker` process runs beside the accepting instance
(the scale-out layout on one machine), processing while it is measured. Prints every round's figures and the
median ratio to the bare endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT))

from tests.perf.support import median, percentile, scratch_database, server_process, table_row  # noqa: E402 - needs the repository on sys.path first

APP_ID = "wx_benchaccount000000001"
ACCOUNT_WXID = "wxid_benchaccount01"


def serve(kind: str, port: int, database_url: str) -> None:
    """Subprocess entry: serve the salesbot app or the bare endpoint with uvicorn."""
    import uvicorn

    if kind == "bare":
        bare = FastAPI()

        @bare.post("/callbacks/gewe/{secret}")
        async def accept(secret: str, request: Request) -> JSONResponse:
            json.loads(await request.body())
            return JSONResponse({"ok": True})

        uvicorn.run(bare, host="127.0.0.1", port=port, log_level="warning")
        return
    from backend.app import create_app
    from backend.config import Settings
    from backend.ingest.runtime import ChannelRuntime

    settings = Settings(SALESBOT_MODE="test")
    settings.database.url = database_url
    settings.security.jwt_secret = secrets.token_urlsafe(40)
    settings.redis.url = os.environ.get("BENCH_REDIS_URL") or None
    settings.server.log_level = "WARNING"
    if kind == "worker":
        from backend.worker import lower_cpu_priority, run_worker

        settings.worker.metrics_port = port  # its /metrics answering tells server_process it has started
        lower_cpu_priority(settings.worker.niceness)  # as `salesbot worker` does
        asyncio.run(run_worker(settings))
        return
    if kind == "accept-only":
        # The web process only accepts; processing runs elsewhere (`salesbot worker` with Redis).
        original_init = ChannelRuntime.__init__

        def accept_only_init(self: ChannelRuntime, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **{**kwargs, "consume": False})

        ChannelRuntime.__init__ = accept_only_init  # type: ignore[method-assign]

    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning", log_config=None)


@dataclass
class Figures:
    """Throughput and latency of one run."""

    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def bodies(count: int, start: int) -> list[bytes]:
    """Distinct AddMsg callbacks from 100 customers."""
    now = int(time.time())
    out = []
    for i in range(start, start + count):
        payload = {
            "TypeName": "AddMsg",
            "Appid": APP_ID,
            "Wxid": ACCOUNT_WXID,
            "Data": {
                "MsgId": i,
                "NewMsgId": 9_000_000_000_000_000_000 + i,
                "FromUserName": {"string": f"wxid_benchcust{i % 100:03d}"},
                "ToUserName": {"string": ACCOUNT_WXID},
                "MsgType": 1,
                "Content": {"string": f"请问这款还有货吗？#{i}"},
                "CreateTime": now,
                "MsgSource": "<msgsource></msgsource>",
            },
        }
        out.append(json.dumps(payload, ensure_ascii=False).encode())
    return out


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> bool:
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            await response.read()
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def saturate(url: str, payloads: list[bytes], concurrency: int) -> Figures:
    """Send every payload with `concurrency` requests in flight; throughput and latency."""
    latencies: list[float] = []
    errors = 0
    queue = iter(payloads)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            nonlocal errors
            for body in queue:
                started = time.perf_counter()
                ok = await _post(session, url, body)
                latencies.append(time.perf_counter() - started)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return _figures(latencies, len(payloads) / elapsed, errors)


async def paced(url: str, payloads: list[bytes], rate: float, *, warm_up: int = 0) -> Figures:
    """Send payloads at a fixed rate (open loop) and measure each accept latency.

    The first `warm_up` payloads are sent at the same rate but not measured: they open the client's connections
    (up to one per request in flight), which otherwise lands in the first measured requests as connect time.
    """
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one(body: bytes, measured: bool) -> None:
            nonlocal errors
            started = time.perf_counter()
            ok = await _post(session, url, body)
            if measured:
                errors += not ok
                latencies.append(time.perf_counter() - started)

        began = measured_from = time.perf_counter()
        tasks = []
        for index, body in enumerate(payloads):
            if index == warm_up:
                measured_from = time.perf_counter()
            delay = began + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body, index >= warm_up)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - measured_from
    return _figures(latencies, (len(payloads) - warm_up) / elapsed, errors)


def _figures(latencies: list[float], per_second: float, errors: int) -> Figures:
    return Figures(per_second, median(latencies) * 1000, percentile(latencies, 0.99) * 1000, errors)


async def prepare(database_url: str) -> str:
    """Create the benchmark organisation and account; returns its callback secret."""
    from backend.accounts.models import Account
    from backend.core.db import Database
    from backend.organizations.service import get_or_create

    database = Database(database_url)
    try:
        async with database.sessionmaker() as session:
            organization = await get_or_create(session, name="Bench Co.")
            secret = secrets.token_urlsafe(24)
            session.add(
                # AI off: this benchmark measures ingest alone (tests/perf/reply measures replies).
                Account(
                    organization_id=organization.id,
                    app_id=APP_ID,
                    wxid=ACCOUNT_WXID,
                    callback_secret=secret,
                    ai_enabled=False,
                )
            )
            await session.commit()
        return secret
    finally:
        await database.dispose()


async def poll_until_processed(database_url: str, give_up_after: float) -> tuple[int, int, float]:
    """Count stored and processed inbox rows every 0.1 s on one connection until they match (or `give_up_after` seconds)."""
    from sqlalchemy import text

    from backend.core.db import Database

    count = text("select count(*), count(*) filter (where state = 'processed') from ingest_inbox")
    database = Database(database_url)
    started = time.monotonic()
    try:
        async with database.engine.connect() as conn:
            while True:
                accepted, processed = (await conn.execute(count)).one()
                await conn.rollback()  # a fresh snapshot for the next count
                waited = time.monotonic() - started
                if processed >= accepted or waited > give_up_after:
                    return int(accepted), int(processed), waited
                await asyncio.sleep(0.1)
    finally:
        await database.dispose()


def wait_until_processed(database_url: str, timeout: float = 120.0) -> tuple[int, int, float]:
    """Wait until every stored callback is processed (or `timeout`); (stored, processed, seconds waited).

    One engine and connection for the whole wait: a new one per poll cost the load generator a quarter of a core
    while the processing it waits for was running.
    """
    return asyncio.run(poll_until_processed(database_url, timeout))


def report(label: str, figures: Figures) -> None:
    """Print one result line."""
    print(
        f"{label:<34} {figures.per_second:8.0f} req/s   p50 {figures.p50_ms:6.2f} ms   "
        f"p99 {figures.p99_ms:6.2f} ms   errors {figures.errors}"
    )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Keep the load generator's garbage collector still while it measures.

    Its full collections (tens of thousands of requests' objects) paused it for 70-90 ms, which landed in the
    latencies it measured for whichever server it was sending to.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def saturated_run(url: str, args: argparse.Namespace, offset: int) -> Figures:
    """`args.requests` callbacks with `args.concurrency` in flight."""
    with collector_paused():
        return asyncio.run(saturate(url, bodies(args.requests, offset), args.concurrency))


def paced_run(url: str, args: argparse.Namespace, offset: int) -> Figures:
    """`args.rate` callbacks a second for `args.paced_seconds`, after one unmeasured second."""
    warm_up = int(args.rate)
    with collector_paused():
        steady_bodies = bodies(warm_up + int(args.rate * args.paced_seconds), offset)
        return asyncio.run(paced(url, steady_bodies, args.rate, warm_up=warm_up))


Round = dict[str, tuple[Figures, Figures]]  # server kind -> (saturated, paced)


def run_rounds(
    urls: dict[str, str], args: argparse.Namespace, offset: int, settle: Callable[[], float] | None
) -> list[tuple[Round, float]]:
    """Measure the servers of `urls` round after round; each round with the seconds `settle` waited after it.

    Saturated runs go back to back, then paced runs: the servers' figures of a round are taken seconds apart, so a
    slow spell of the shared machine lands on all of them. `settle` waits until every stored callback is processed
    (None: nothing processes here): the bare endpoint is never measured while salesbot catches up.
    """
    rounds = []
    for _ in range(args.rounds):
        saturated = {}
        for kind, url in urls.items():
            saturated[kind] = saturated_run(url, args, offset)
            offset += args.requests
        if settle:
            settle()
        figures = {}
        for kind, url in urls.items():
            figures[kind] = (saturated[kind], paced_run(url, args, offset))
            offset += int(args.rate * (args.paced_seconds + 1))
        rounds.append((figures, settle() if settle else 0.0))
    return rounds


def report_rounds(label: str, kind: str, rounds: list[tuple[Round, float]], args: argparse.Namespace) -> None:
    """Print every round of one salesbot layout beside the bare endpoint, then the ratios and table rows."""
    print(f"\n{label}")
    for number, (figures, settle_seconds) in enumerate(rounds, 1):
        print(f"round {number}: saturated ({args.requests} requests, {args.concurrency} in flight)")
        report("bare FastAPI endpoint", figures["bare"][0])
        report(label, figures[kind][0])
        print(f"round {number}: paced at {args.rate:.0f}/s for {args.paced_seconds:.0f} s after 1 s unmeasured")
        report("bare FastAPI endpoint", figures["bare"][1])
        report(label, figures[kind][1])
        if settle_seconds:
            print(f"round {number}: every stored callback processed {settle_seconds:.1f} s after the last one")
    ratios = [figures[kind][0].per_second / figures["bare"][0].per_second for figures, _ in rounds]
    p99s = [figures[kind][1].p99_ms for figures, _ in rounds]
    print(
        f"{label}: throughput / bare per round {' '.join(f'{r:.2f}' for r in ratios)} (median {median(ratios):.2f}); "
        f"paced p99 {' '.join(f'{p:.1f}' for p in p99s)} ms (median {median(p99s):.1f})"
    )
    median_round = sorted(zip(ratios, (figures for figures, _ in rounds), strict=True), key=lambda pair: pair[0])[
        len(rounds) // 2
    ][1]
    table_row(
        f"callbacks accepted/s, {label} (median round)",
        median_round[kind][0].per_second,
        "bare FastAPI endpoint",
        median_round["bare"][0].per_second,
        "/s",
    )
    table_row(
        f"accept p99 paced at {args.rate:.0f}/s, {label} (median round)",
        median(p99s),
        "bare FastAPI endpoint",
        median([figures["bare"][1].p99_ms for figures, _ in rounds]),
        "ms",
    )


def main() -> None:
    """Run the benchmark and print figures with ratios to the bare endpoint."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced run: callbacks per second")
    parser.add_argument("--paced-seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per layout; each measures every server once")
    parser.add_argument("--serve", choices=["app", "accept-only", "bare", "worker"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.database_url or "")
        return
    with_worker = bool(os.environ.get("BENCH_REDIS_URL"))
    in_process_label = "salesbot (in-process workers)"
    intake_label = "salesbot (intake + worker, Redis)" if with_worker else "salesbot (accept only)"
    with scratch_database() as database_url:
        secret = asyncio.run(prepare(database_url))
        server_args = ("--database-url", database_url)
        offset = 10_000_000

        def start(servers: ExitStack, kind: str) -> str:
            base_url = servers.enter_context(server_process(Path(__file__), kind, args=server_args))
            return f"{base_url}/callbacks/gewe/{secret}"

        def warm_up(urls: dict[str, str]) -> None:  # connections, caches, first statements
            nonlocal offset
            for url in urls.values():
                asyncio.run(saturate(url, bodies(200, offset), args.concurrency))
                offset += 1_000

        def settle_inbox() -> float:
            accepted, processed, waited = wait_until_processed(database_url)
            if processed < accepted:
                print(f"{accepted - processed} of {accepted} stored callbacks still unprocessed")
            return waited

        round_span = args.rounds * (2 * args.requests + 2 * int(args.rate * (args.paced_seconds + 1)))
        # One layout at a time: the in-process instance would also process (sweep up) what the accept-only
        # instance stores. With Redis, a `salesbot worker` runs beside the accept-only instance, as in the
        # scale-out layout: it processes while the instance is measured, on the same two cores.
        with ExitStack() as servers:
            urls = {kind: start(servers, kind) for kind in ("bare", "app")}
            warm_up(urls)
            settle_inbox()
            in_process = run_rounds(urls, args, offset, settle_inbox)
            offset += round_span
        with ExitStack() as servers:
            if with_worker:
                servers.enter_context(server_process(Path(__file__), "worker", args=server_args))
            urls = {kind: start(servers, kind) for kind in ("bare", "accept-only")}
            warm_up(urls)
            if with_worker:
                settle_inbox()
            intake = run_rounds(urls, args, offset, settle_inbox if with_worker else None)
    report_rounds(in_process_label, "app", in_process, args)
    report_rounds(intake_label, "accept-only", intake, args)


if __name__ == "__main__":
    main()
