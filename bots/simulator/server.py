"""Command line and serving entry points of the simulator (`python -m bots.simulator`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from bots.simulator.app import create_simulator_app
from bots.simulator.state import SimulatorConfig, SimulatorState

logger = logging.getLogger(__name__)


@asynccontextmanager
async def serve_in_loop(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn inside the running event loop; yields its base URL (port 0 = free)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(startup_timeout):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        await task


def run(
    host: str = "127.0.0.1",
    port: int = 2531,
    *,
    callback_url: str | None = None,
    token: str | None = None,
    seed: int | None = None,
    scripted_customers: bool = True,
    accounts: int = 0,
    base_path: str = "/v2/api",
    auto_confirm_login_after: float | None = 3.0,
    duplicate_probability: float = 0.0,
    late_redelivery_probability: float = 0.0,
    log_level: str = "info",
) -> None:
    """Serve the simulator with uvicorn until interrupted."""
    config = SimulatorConfig(
        base_path=base_path,
        callback_url=callback_url,
        token=token,
        seed=seed,
        scripted_customers=scripted_customers,
        auto_confirm_login_after=auto_confirm_login_after,
        duplicate_probability=duplicate_probability,
        late_redelivery_probability=late_redelivery_probability,
    )
    state = SimulatorState(config)
    for _ in range(accounts):
        account = state.create_account()
        logger.info("pre-created account appId=%s wxid=%s", account.app_id, account.wxid)
    uvicorn.run(create_simulator_app(state), host=host, port=port, log_level=log_level, timeout_graceful_shutdown=3)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse command-line arguments and run the simulator."""
    parser = argparse.ArgumentParser(prog="python -m bots.simulator", description="GeWe-compatible simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2531)
    parser.add_argument("--callback-url", default=None, help="where to POST callbacks (also set by setCallback)")
    parser.add_argument("--token", default=None, help="a token accepted without calling getTokenId")
    parser.add_argument("--seed", type=int, default=None, help="seed for names, ids and customer scripts")
    parser.add_argument("--no-customers", action="store_true", help="disable scripted customers")
    parser.add_argument("--accounts", type=int, default=0, help="pre-create this many logged-in accounts")
    parser.add_argument("--base-path", default="/v2/api")
    parser.add_argument("--auto-confirm", type=float, default=3.0, help="seconds before a QR login auto-confirms")
    parser.add_argument("--duplicates", type=float, default=0.0, help="probability of an immediate duplicate")
    parser.add_argument("--late-redeliveries", type=float, default=0.0, help="probability of a late re-delivery")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    run(
        args.host,
        args.port,
        callback_url=args.callback_url,
        token=args.token,
        seed=args.seed,
        scripted_customers=not args.no_customers,
        accounts=args.accounts,
        base_path=args.base_path,
        auto_confirm_login_after=args.auto_confirm if args.auto_confirm >= 0 else None,
        duplicate_probability=args.duplicates,
        late_redelivery_probability=args.late_redeliveries,
        log_level=args.log_level,
    )
