"""Benchmark: planning 100,000 SOP deliveries, and dispatch overhead per send, against plain INSERT baselines.

Run: `python tests/perf/sop/bench_sop.py [--targets 20000] [--steps 5] [--sends 600]`.
Uses a throw-away database (see tests/perf/support.py) and the GeWe simulator in this process. Pacing is
off (pacing waits are excluded by design). Baselines measured in the same run:
- planning: a plain multi-row INSERT of the same number of delivery rows (no target resolution, no timing);
- dispatch: a plain one-row INSERT + COMMIT per send, and a bare GeWe postText call per send.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT))

from tests.perf.support import median, percentile, scratch_database, table_row  # noqa: E402 - needs the repository on sys.path first

SIM_TOKEN = "bench-sim-token"
NO_PACING = {"per_minute_cap": 1_000_000, "min_gap_per_chat": 0.0, "switch_jitter": [0.0, 0.0], "daily_cap": None}


async def _world(database: Any, *, accounts: int, targets: int, sim: Any = None) -> tuple[Any, list[Any]]:
    """An organisation, a manager, accounts (on the simulator when given) and tagged friends spread over them."""
    from backend.accounts.models import Account
    from backend.auth.models import Role
    from backend.auth.service import create_user
    from backend.contacts.models import Contact
    from backend.organizations.service import get_or_create

    async with database.sessionmaker() as session:
        organization = await get_or_create(session, name=f"bench {uuid.uuid4().hex[:6]}")
        manager = await create_user(
            session,
            organization_id=organization.id,
            username=f"bench_{uuid.uuid4().hex[:6]}",
            password="bench-password-1",
            role=Role.manager,
        )
        rows = []
        for index in range(accounts):
            remote = sim.create_account(online=True) if sim is not None else None
            rows.append(
                Account(
                    organization_id=organization.id,
                    nickname=f"销售{index}",
                    app_id=remote.app_id if remote else None,
                    wxid=remote.wxid if remote else None,
                    status="online",
                    callback_secret=uuid.uuid4().hex,
                    pacing=NO_PACING,
                )
            )
        session.add_all(rows)
        await session.flush()
        added = datetime.now(UTC) - timedelta(hours=1)
        contacts = [
            {
                "id": uuid.uuid4(),
                "organization_id": organization.id,
                "account_id": rows[index % accounts].id,
                "wxid": f"wxid_bench_{index}",
                "nickname": f"客户{index}",
                "tags": ["bench"],
                "added_at": added,
            }
            for index in range(targets)
        ]
        from sqlalchemy import insert

        for start in range(0, len(contacts), 5000):
            await session.execute(insert(Contact), contacts[start : start + 5000])
        await session.commit()
        return manager, rows


def _sop_body(steps: int, now: datetime) -> Any:
    from backend.sop.schemas import SopIn

    kinds = []
    for index in range(steps):
        if index % 2 == 0:
            kinds.append({"kind": "at", "at": (now + timedelta(minutes=index)).isoformat()})
        else:
            kinds.append({"kind": "day_offset", "day": index, "time": "10:00"})
    return SopIn.model_validate(
        {
            "name": "bench",
            "targets": {"tags": ["bench"]},
            "steps": [
                {
                    "content": {"kind": "text", "text": f"第{index + 1}步 {{昵称}}"},
                    "timing": timing,
                    "window_start": "09:00",
                    "window_end": "21:00",
                }
                for index, timing in enumerate(kinds)
            ],
        }
    )


async def bench_planning(url: str, *, targets: int, steps: int) -> dict[str, float]:
    """Seconds to start (resolve + plan) a SOP of `targets x steps` deliveries, and to INSERT as many plain rows."""
    from sqlalchemy import func, insert, select

    from backend.core.db import Database
    from backend.sop import service
    from backend.sop.models import SopDelivery

    database = Database(url)
    try:
        manager, _ = await _world(database, accounts=10, targets=targets)
        now = datetime.now(UTC)
        async with database.sessionmaker() as session:
            sop = await service.create_sop(session, user=manager, body=_sop_body(steps, now))
            baseline_sop = await service.create_sop(session, user=manager, body=_sop_body(steps, now))
            await session.commit()
        started = time.perf_counter()
        async with database.sessionmaker() as session:
            await service.start_sop(session, user=manager, sop_id=sop.id, now=now, horizon=timedelta(hours=24))
            await session.commit()
        planning = time.perf_counter() - started
        async with database.sessionmaker() as session:
            planned = await session.scalar(select(func.count()).where(SopDelivery.sop_id == sop.id))
            pairs = (
                await session.execute(
                    select(SopDelivery.step_id, SopDelivery.contact_id, SopDelivery.account_id).where(
                        SopDelivery.sop_id == sop.id
                    )
                )
            ).all()
            steps_by_position = {step.id: index for index, step in enumerate(await service.steps_of(session, sop.id))}
            baseline_steps = await service.steps_of(session, baseline_sop.id)
        rows = [
            {
                "organization_id": manager.organization_id,
                "sop_id": baseline_sop.id,
                "step_id": baseline_steps[steps_by_position[step_id]].id,
                "contact_id": contact_id,
                "account_id": account_id,
                "occurrence": "once",
                "planned_for": now,
                "due_at": now,
            }
            for step_id, contact_id, account_id in pairs
        ]
        started = time.perf_counter()
        async with database.sessionmaker() as session:
            for start in range(0, len(rows), 5000):
                await session.execute(insert(SopDelivery), rows[start : start + 5000])
            await session.commit()
        baseline = time.perf_counter() - started
        return {"deliveries": float(planned or 0), "planning_s": planning, "baseline_s": baseline}
    finally:
        await database.dispose()


async def bench_dispatch(url: str, *, sends: int) -> dict[str, float]:
    """Per-send milliseconds of the dispatcher (one lane, no pacing) against one-row INSERT+COMMIT and a bare GeWe call."""
    from sqlalchemy import text

    from backend.accounts.gewe import GeweGateway, token_cipher
    from backend.config import GeweSettings, SecuritySettings, SopSettings
    from backend.core.db import Database
    from backend.sop import service
    from backend.sop.dispatcher import SopDispatcher
    from bots.pacer import InProcessPacer, PacingPolicy
    from bots.simulator import SimulatorConfig, SimulatorState, create_simulator_app
    from bots.simulator.server import serve_in_loop

    database = Database(url)
    state = SimulatorState(SimulatorConfig(token=SIM_TOKEN, auto_confirm_login_after=None, friends_per_account=0))
    async with serve_in_loop(create_simulator_app(state)) as base_url:
        gateway = GeweGateway(
            GeweSettings(api_base=base_url + state.config.base_path, token=SIM_TOKEN),
            token_cipher(SecuritySettings(jwt_secret="bench-secret-" + uuid.uuid4().hex)),
        )
        try:
            manager, accounts = await _world(database, accounts=1, targets=sends, sim=state)
            now = datetime.now(UTC)
            body = _sop_body(1, now)
            async with database.sessionmaker() as session:
                sop = await service.create_sop(session, user=manager, body=body)
                await service.start_sop(session, user=manager, sop_id=sop.id, now=now, horizon=timedelta(hours=1))
                await session.commit()
            pacer = InProcessPacer(
                PacingPolicy(per_minute_cap=1_000_000, min_gap_per_chat=0.0, switch_jitter=(0.0, 0.0), daily_cap=None)
            )
            dispatcher = SopDispatcher(database.sessionmaker, gateway=gateway, pacer=pacer, settings=SopSettings())
            latencies = []
            started = time.perf_counter()
            while (job := await dispatcher._claim(accounts[0].id)) is not None:
                begun = time.perf_counter()
                await dispatcher._deliver(job)
                latencies.append((time.perf_counter() - begun) * 1000)
            dispatch_total = time.perf_counter() - started
            client = gateway.client(accounts[0])
            gewe = []
            for index in range(min(sends, 300)):
                begun = time.perf_counter()
                await client.post_text(accounts[0].app_id, f"wxid_bare_{index}", "bare")
                gewe.append((time.perf_counter() - begun) * 1000)
            inserts = []
            async with database.engine.connect() as conn:
                await conn.execute(
                    text("create temporary table bench_rows (id bigserial primary key, body text, at timestamptz)")
                )
                await conn.commit()
                for _ in range(min(sends, 300)):
                    begun = time.perf_counter()
                    await conn.execute(text("insert into bench_rows (body, at) values ('x', now())"))
                    await conn.commit()
                    inserts.append((time.perf_counter() - begun) * 1000)
        finally:
            await gateway.aclose()
            await database.dispose()
    claims = dispatch_total * 1000 / max(len(latencies), 1)
    return {
        "sends": float(len(latencies)),
        "send_p50": median(latencies),
        "send_p95": percentile(latencies, 0.95),
        "per_send_with_claim": claims,
        "gewe_p50": median(gewe),
        "insert_p50": median(inserts),
    }


def main() -> None:
    """Run both benchmarks and print their figures with ratios to the same-run baselines."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--sends", type=int, default=600)
    args = parser.parse_args()
    with scratch_database("salesbot_bench_sop") as url:
        planning = asyncio.run(bench_planning(url, targets=args.targets, steps=args.steps))
        dispatch = asyncio.run(bench_dispatch(url, sends=args.sends))
    rate = planning["deliveries"] / planning["planning_s"]
    print(f"SOP planning: {planning['deliveries']:.0f} deliveries ({args.targets} targets x {args.steps} steps)")
    print(f"  start (resolve targets + plan): {planning['planning_s']:.2f} s ({rate:,.0f} rows/s)")
    print(f"  baseline plain INSERT of as many rows: {planning['baseline_s']:.2f} s")
    print(f"  ratio planning / plain INSERT: {planning['planning_s'] / planning['baseline_s']:.2f}x")
    table_row(
        f"SOP planning {planning['deliveries']:.0f} deliveries",
        planning["planning_s"],
        "plain INSERT of as many rows",
        planning["baseline_s"],
        "s",
    )
    table_row(
        "SOP dispatch overhead per send (claim + checks + 2 transactions)",
        dispatch["per_send_with_claim"] - dispatch["gewe_p50"],
        "plain one-row INSERT + COMMIT",
        dispatch["insert_p50"],
        "ms",
    )
    overhead = dispatch["send_p50"] - dispatch["gewe_p50"]
    print(f"SOP dispatch: {dispatch['sends']:.0f} sends, one lane, pacing off")
    print(
        f"  per send (pacer, checks, 2 transactions, GeWe call): p50 {dispatch['send_p50']:.2f} ms, p95 {dispatch['send_p95']:.2f} ms"
    )
    print(f"  per send including the claim transaction: {dispatch['per_send_with_claim']:.2f} ms")
    print(f"  baseline bare GeWe postText: p50 {dispatch['gewe_p50']:.2f} ms")
    print(f"  baseline plain one-row INSERT + COMMIT: p50 {dispatch['insert_p50']:.2f} ms")
    print(
        f"  dispatch overhead (per send with claim - GeWe call): {dispatch['per_send_with_claim'] - dispatch['gewe_p50']:.2f} ms"
        f" = {(dispatch['per_send_with_claim'] - dispatch['gewe_p50']) / dispatch['insert_p50']:.1f}x a plain INSERT"
        f" (without the claim: {overhead:.2f} ms)"
    )


if __name__ == "__main__":
    main()
