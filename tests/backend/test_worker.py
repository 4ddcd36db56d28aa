"""`salesbot worker` serves its Prometheus metrics on WORKER_METRICS_PORT (it has no API)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from backend.config import REPO_ROOT, Settings
from tests.fixtures.db import free_port
from tests.fixtures.processes import process_env, running, start_salesbot


def scrape(url: str, process: subprocess.Popen[bytes], limit: float = 60.0) -> httpx.Response:
    """GET the metrics once the worker listens (fails when the process exits first)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


@pytest.mark.redis
def test_the_worker_serves_prometheus_metrics_on_its_port(settings: Settings, redis_url: str, redis_client) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = process_env(DATABASE_URL=settings.database.url or "", REDIS_URL=redis_url, WORKER_METRICS_PORT=str(port))
    with running({}) as processes:
        processes["worker"] = start_salesbot("worker", env=env)
        response = scrape(f"http://127.0.0.1:{port}/metrics", processes["worker"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE salesbot_sop_deliveries_total counter" in response.text
    assert "# TYPE salesbot_ingest_lag_seconds histogram" in response.text
    assert "process_resident_memory_bytes" in response.text


@pytest.mark.redis
def test_the_worker_runs_at_the_niceness_it_is_given(settings: Settings, redis_url: str, redis_client) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = process_env(
        DATABASE_URL=settings.database.url or "",
        REDIS_URL=redis_url,
        WORKER_METRICS_PORT=str(port),
        WORKER_NICENESS="7",
    )
    with running({}) as processes:
        worker = processes["worker"] = start_salesbot("worker", env=env)
        scrape(f"http://127.0.0.1:{port}/metrics", worker)
        niceness = os.getpriority(os.PRIO_PROCESS, worker.pid)
    assert niceness == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 7)


def test_a_metrics_port_in_use_stops_the_worker_with_a_one_line_reason(settings: Settings, redis_url: str) -> None:
    # The worker needs REDIS_URL set, but stops before connecting to Redis.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = process_env(DATABASE_URL=settings.database.url or "", REDIS_URL=redis_url, WORKER_METRICS_PORT=str(port))
        result = subprocess.run(
            [sys.executable, "-m", "backend.cli", "worker"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot serve worker metrics on 127.0.0.1:{port}" in result.stderr
