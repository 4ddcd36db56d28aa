"""Fixtures for the bots tests: real uvicorn servers for the simulator and for callback receivers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bots.simulator import SimulatorConfig, SimulatorState, create_simulator_app
from bots.simulator.server import serve_in_loop

WAIT_LIMIT = 10.0


WaitUntil = Callable[..., Coroutine[Any, Any, None]]


async def _wait_until(predicate: Callable[[], bool], limit: float = WAIT_LIMIT) -> None:
    async with asyncio.timeout(limit):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)


@pytest.fixture
def wait_until() -> WaitUntil:
    """`await wait_until(predicate, limit=seconds)` polls until the predicate holds or fails the test."""
    return _wait_until


@dataclass
class CallbackReceiver:
    """A tiny HTTP server that records every JSON body POSTed to it."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, type_name: str) -> list[dict[str, Any]]:
        """Received payloads with this TypeName."""
        return [payload for payload in self.received if payload.get("TypeName") == type_name]


@pytest.fixture
async def callback_receiver() -> AsyncIterator[CallbackReceiver]:
    """A running callback receiver."""
    receiver = CallbackReceiver()

    async def record(request: Request) -> Response:
        receiver.received.append(json.loads(await request.body()))
        return JSONResponse({"ok": True})

    async with serve_in_loop(Starlette(routes=[Route("/callback", record, methods=["POST"])])) as base_url:
        receiver.url = f"{base_url}/callback"
        yield receiver


@dataclass
class RunningSimulator:
    """A simulator served over real HTTP, its state, and a control-API client."""

    state: SimulatorState
    base_url: str
    control: httpx.AsyncClient

    @property
    def api_base(self) -> str:
        """Base URL of the GeWe-compatible API."""
        return self.base_url + self.state.config.base_path


def simulator_config(**overrides: Any) -> SimulatorConfig:
    """A fast, deterministic configuration for tests."""
    defaults: dict[str, Any] = {
        "seed": 7,
        "auto_confirm_login_after": None,
        "friends_per_account": 6,
        "customer_reply_delay": (0.05, 0.1),
        "new_conversation_interval": (3600.0, 3600.0),
    }
    defaults.update(overrides)
    return SimulatorConfig(**defaults)


@asynccontextmanager
async def running_simulator(config: SimulatorConfig) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator built from `config`."""
    state = SimulatorState(config)
    async with serve_in_loop(create_simulator_app(state)) as base_url, httpx.AsyncClient(base_url=base_url) as control:
        yield RunningSimulator(state=state, base_url=base_url, control=control)


@pytest.fixture
def make_simulator() -> Callable[..., Any]:
    """`async with make_simulator(**config_overrides) as sim:` serves a simulator for one test."""

    def factory(**overrides: Any) -> Any:
        return running_simulator(simulator_config(**overrides))

    return factory


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    """A running simulator with default test configuration."""
    async with running_simulator(simulator_config()) as running:
        yield running
