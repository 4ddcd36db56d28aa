"""Benchmark: /api/cost/summary over 1,000,000 ledger rows (rollups) against a full scan of the ledger.

Run: `.venv/bin/python tests/perf/cost/bench_cost_summary.py [--rows 1000000] [--repeat 30]`. Uses the PostgreSQL
server of TEST_DATABASE_URL / DATABASE_URL (a throw-away database is created and dropped), else the embedded
server in var/bench-pg. Not collected by pytest (the file name does not start with test_).

Data: 30 days, 5 models of 3 providers, AI replies / SOP / summaries billed to 50 WeChat accounts and agent calls
billed to 20 users; AI replies belong to 20,000 conversations, each active on up to 3 consecutive days (a chat
with a customer is bursty). Rollups are built from the ledger with one INSERT ... SELECT (the same
totals the gateway upserts row by row), then the summary endpoint is timed in-process through the ASGI app.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from backend.app import create_app
from backend.auth.models import Role
from backend.auth.service import create_user
from backend.config import REPO_ROOT, Settings
from backend.core.db import Database
from backend.core.security import issue_token
from backend.organizations.service import get_or_create

sys.path.insert(0, str(REPO_ROOT))
from tests.perf.support import scratch_database, table_row

FILL_LEDGER = """
INSERT INTO cost_ledger (request_id, call_id, attempt, organization_id, user_id, account_id, conversation_id,
    origin, purpose, provider, model, input_tokens, cached_input_tokens, output_tokens, latency_ms, status,
    cost, currency, offline, created_at)
SELECT 'bench-' || g, gen_random_uuid(), 1, $1::uuid,
    CASE WHEN o = 4 THEN md5('user' || floor(random() * 20))::uuid END,
    CASE WHEN o <> 4 THEN md5('account' || floor(random() * 50))::uuid END,
    CASE WHEN o = 1 THEN md5('conversation' || k)::uuid END,
    (ARRAY['ai_reply', 'sop', 'summary', 'agent'])[o],
    'reply', (ARRAY['deepseek', 'deepseek', 'qwen', 'qwen', 'doubao'])[m],
    (ARRAY['deepseek-chat', 'deepseek-reasoner', 'qwen-plus', 'qwen-turbo', 'doubao-pro-32k'])[m],
    i, c, out, 200 + g % 2000,
    CASE WHEN g % 97 = 0 THEN 'error' ELSE 'ok' END,
    CASE WHEN g % 97 = 0 THEN 0 ELSE ((i - c) * 2.0 + c * 0.2 + out * 3.0) / 1000000 END,
    'CNY', false,
    CASE WHEN o = 1 THEN now() - ((k % 28) + floor(random() * 3)) * interval '1 day' - random() * interval '1 day'
        ELSE now() - random() * interval '30 days' END
FROM (
    SELECT g, 1 + floor(random() * 4)::int AS o, 1 + floor(random() * 5)::int AS m, floor(random() * 20000)::int AS k,
        500 + floor(random() * 1500)::int AS i, floor(random() * 7)::int * 50 AS c, 50 + floor(random() * 300)::int AS out
    FROM generate_series(1, $2::int) AS g
) AS draw
"""
BUILD_DAILY = """
INSERT INTO cost_daily_rollups (organization_id, day, provider, model, origin, account_id, user_id, calls,
    failed_calls, input_tokens, cached_input_tokens, output_tokens, cost)
SELECT organization_id, (created_at AT TIME ZONE 'Asia/Shanghai')::date, provider, model, origin, account_id, user_id,
    count(*), count(*) FILTER (WHERE status IN ('error', 'timeout')), sum(input_tokens), sum(cached_input_tokens),
    sum(output_tokens), sum(cost)
FROM cost_ledger GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
BUILD_CONVERSATIONS = """
INSERT INTO cost_conversation_rollups (organization_id, day, conversation_id, calls, failed_calls, input_tokens,
    cached_input_tokens, output_tokens, cost)
SELECT organization_id, (created_at AT TIME ZONE 'Asia/Shanghai')::date, conversation_id, count(*),
    count(*) FILTER (WHERE status IN ('error', 'timeout')), sum(input_tokens), sum(cached_input_tokens),
    sum(output_tokens), sum(cost)
FROM cost_ledger WHERE conversation_id IS NOT NULL GROUP BY 1, 2, 3
"""
FULL_SCAN = """
SELECT model, count(*), count(*) FILTER (WHERE status IN ('error', 'timeout')), sum(input_tokens),
    sum(cached_input_tokens), sum(output_tokens), sum(cost)
FROM cost_ledger
WHERE organization_id = $1 AND created_at >= now() - interval '30 days'
GROUP BY model ORDER BY sum(cost) DESC
"""


def connect_args(url: str) -> dict[str, object]:
    """asyncpg connect() arguments of a SQLAlchemy URL."""
    parsed = make_url(url)
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": parsed.query.get("host") or parsed.host,
        "port": parsed.port,
        "database": parsed.database,
    }


def percentile(samples: list[float], share: float) -> float:
    """The share-th percentile (nearest rank) of the samples."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def timed(label: str, action) -> float:  # type: ignore[no-untyped-def]
    """Run an awaitable factory once, print and return its duration in seconds."""
    started = time.perf_counter()
    await action()
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {elapsed:8.2f} s")
    return elapsed


async def bench(url: str, rows: int, repeat: int) -> None:
    """Fill the ledger, build rollups, time the endpoint and the full-scan baseline."""
    database = Database(url)
    async with database.sessionmaker() as session:
        org = await get_or_create(session, name="Bench Co.")
        user = await create_user(
            session, organization_id=org.id, username="bench_finance", password="bench-password-1", role=Role.finance
        )
        await session.commit()
    await database.dispose()

    conn = await asyncpg.connect(**connect_args(url))  # type: ignore[arg-type]
    try:
        await timed(f"insert {rows:,} ledger rows (generate_series)", lambda: conn.execute(FILL_LEDGER, org.id, rows))
        await timed("build daily rollups", lambda: conn.execute(BUILD_DAILY))
        await timed("build conversation rollups", lambda: conn.execute(BUILD_CONVERSATIONS))
        # What autovacuum does after a bulk load (statistics and the visibility map the index-only scans use).
        await conn.execute("ANALYZE cost_ledger")
        await conn.execute("VACUUM ANALYZE cost_daily_rollups")
        await conn.execute("VACUUM ANALYZE cost_conversation_rollups")
        daily = await conn.fetchval("SELECT count(*) FROM cost_daily_rollups")
        conversations = await conn.fetchval("SELECT count(*) FROM cost_conversation_rollups")
        print(f"rollup rows: daily {daily:,}, conversation {conversations:,}")

        baseline: list[float] = []
        for _ in range(max(3, repeat // 5)):
            started = time.perf_counter()
            await conn.fetch(FULL_SCAN, org.id)
            baseline.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()

    settings = Settings(SALESBOT_MODE="test")
    settings.database.url = url
    settings.security.jwt_secret = secrets.token_urlsafe(40)
    settings.server.log_json = False
    token, _ = issue_token(
        secret=settings.security.jwt_secret,
        user_id=user.id,
        organization_id=org.id,
        role=Role.finance,
        kind="access",
        ttl_seconds=3600,
    )
    asgi = create_app(settings)
    fastapi_app = asgi.other_asgi_app
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        fastapi_app.router.lifespan_context(fastapi_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://bench") as client,  # type: ignore[arg-type]
    ):
        print(f"\n{'GET /api/cost/summary (30 days)':<44} {'p50 ms':>8} {'p95 ms':>8} {'vs scan':>8}")
        scan_p50 = statistics.median(baseline)
        for group_by in ("model", "day", "account", "user", "origin", "conversation"):
            samples = []
            for _ in range(repeat + 2):
                started = time.perf_counter()
                response = await client.get("/api/cost/summary", params={"group_by": group_by}, headers=headers)
                samples.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            samples = samples[2:]  # the first calls warm the pool and caches
            p50, p95 = statistics.median(samples), percentile(samples, 0.95)
            print(f"{'  group_by=' + group_by:<44} {p50:8.1f} {p95:8.1f} {scan_p50 / p50:7.1f}x")
            table_row(
                f"cost summary group_by={group_by} over {rows:,} rows, p50",
                p50,
                "full-scan GROUP BY model",
                scan_p50,
                "ms",
            )
        print(
            f"{'baseline: full-scan GROUP BY model (SQL only)':<44} {scan_p50:8.1f} {percentile(baseline, 0.95):8.1f}"
        )
        print(f"\n'vs scan' = full-scan p50 / summary p50; target: summary p50 < 200 ms over {rows:,} ledger rows")


def main() -> None:
    """Parse arguments, provide a database, run the benchmark, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="Keep the database (its URL is printed) for EXPLAIN.")
    args = parser.parse_args()
    with scratch_database(keep=args.keep) as url:
        asyncio.run(bench(url, args.rows, args.repeat))


if __name__ == "__main__":
    main()
