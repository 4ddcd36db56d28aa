"""Acceptance: two processes sharing Redis never exceed one account's cap in any window."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("pacer_worker.py")
CAP = 5
WINDOW = 1.0
GRANTS_PER_PROCESS = 15


async def run_worker(redis_url: str, prefix: str, start_at: float, name: str) -> dict[str, list[float]]:
    """Run one worker process and return its recorded grants."""
    env = {**os.environ, "PYTHONPATH": str(WORKER.parents[2])}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        redis_url,
        prefix,
        "acct-shared",
        str(GRANTS_PER_PROCESS),
        str(start_at),
        name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(20):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    result: dict[str, list[float]] = json.loads(stdout)
    return result


async def test_two_processes_never_exceed_the_cap_in_any_window(redis_client: Any, redis_url: str) -> None:
    start_at = time.time() + 1.5  # both interpreters are up before either starts sending
    first, second = await asyncio.gather(
        run_worker(redis_url, "proc-test", start_at, "p1"), run_worker(redis_url, "proc-test", start_at, "p2")
    )
    slots = sorted(first["slots"] + second["slots"])
    assert len(slots) == 2 * GRANTS_PER_PROCESS
    # Slots are whole milliseconds: any CAP + 1 consecutive grants span at least one full window.
    spans = [round((slots[i + CAP] - slots[i]) * 1000) for i in range(len(slots) - CAP)]
    assert min(spans) >= WINDOW * 1000
    early_cutoff = slots[0] + 2 * WINDOW
    assert min(first["slots"]) < early_cutoff and min(second["slots"]) < early_cutoff  # they really contended
    lateness = [
        sent - slot for worker in (first, second) for sent, slot in zip(worker["sent"], worker["slots"], strict=True)
    ]
    assert min(lateness) > -0.01  # nobody sent before its slot (beyond timer resolution)
