"""What every benchmark needs: a migrated throw-away database, and servers run as subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from backend.config import REPO_ROOT, to_asyncpg_url
from backend.core.embedded_pg import EmbeddedPostgres
from backend.core.runtime import create_database_if_missing, migrate

SERVER_URL_VARIABLES = ("BENCH_DATABASE_URL", "TEST_DATABASE_URL", "DATABASE_URL")


async def _drop_database(server_url: str, name: str) -> None:
    parsed = make_url(server_url)
    conn = await asyncpg.connect(
        user=parsed.username,
        password=parsed.password,
        host=parsed.query.get("host") or parsed.host,
        port=parsed.port,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def scratch_database(prefix: str = "salesbot_bench", *, keep: bool = False) -> Iterator[str]:
    """A migrated throw-away database (BENCH_/TEST_/DATABASE_URL server, else embedded in var/bench-pg)."""
    server_url = next((os.environ[name] for name in SERVER_URL_VARIABLES if os.environ.get(name)), None)
    embedded = None
    if server_url is None:
        embedded = EmbeddedPostgres(REPO_ROOT / "var" / "bench-pg")
        server_url = embedded.start()
    server_url = to_asyncpg_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database_if_missing(server_url, name))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        if keep:
            print(f"kept database: {url}")
        else:
            asyncio.run(_drop_database(server_url, name))
        if embedded is not None:
            embedded.stop()


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(
    script: Path, kind: str, *, args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run `script --serve KIND --port P [args]` and yield its base URL once it answers HTTP."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), "--serve", kind, "--port", str(port), *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)  # any answer, even a 404, means it is serving
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{kind} server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def percentile(values: list[float], fraction: float) -> float:
    """The value at a fraction of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


ROW_PREFIX = "BENCH_ROW\t"


def table_row(figure: str, value: float, baseline_name: str, baseline: float, unit: str) -> None:
    """Print one row of `salesbot bench`'s table: a figure, the same-run baseline it is compared with, the ratio."""
    ratio = value / baseline if baseline else float("nan")
    print(
        ROW_PREFIX
        + json.dumps(
            {
                "figure": figure,
                "value": value,
                "baseline": baseline_name,
                "baseline_value": baseline,
                "unit": unit,
                "ratio": ratio,
            },
            ensure_ascii=False,
        )
    )
