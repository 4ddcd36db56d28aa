"""What the graph's nodes need at run time, passed in the run config (not in the state)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from langchain_core.runnables import RunnableConfig
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.agent.embedder import Embedder, get_embedder
from backend.agent.llm import AgentLLM
from backend.agent.state import AgentState
from backend.crm.client import CrmClient

MAX_ROWS = 1000
STATEMENT_TIMEOUT_MS = 5000
MAX_SQL_ATTEMPTS = 4  # the first try plus three self-corrections

Node = Callable[[AgentState, RunnableConfig], Awaitable[dict[str, Any]]]


@dataclass
class AgentDeps:
    """Database, embedder, CRM and (optionally) the LLM of one agent run."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    crm: CrmClient | None = None
    llm: AgentLLM | None = None
    model_name: str = "offline-rules"
    embed_model_path: str | None = None
    max_rows: int = MAX_ROWS
    timeout_ms: int = STATEMENT_TIMEOUT_MS
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def embedder(self) -> Embedder:
        """The configured embedder (loaded once per process)."""
        return get_embedder(self.embed_model_path)


def deps_of(config: RunnableConfig) -> AgentDeps:
    """The deps a run was started with."""
    deps: AgentDeps = config["configurable"]["deps"]
    return deps


def timed(name: str) -> Callable[[Node], Any]:
    """Record a node's wall time in state.timings_ms (summed when a node runs more than once)."""

    def decorate(node: Node) -> Node:
        @wraps(node)
        async def run(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
            started = time.perf_counter()
            update = await node(state, config)
            elapsed = (time.perf_counter() - started) * 1000
            previous = (state.get("timings_ms") or {}).get(name, 0.0)
            update["timings_ms"] = {name: round(previous + elapsed, 2)}
            return update

        return run

    return decorate
