"""State carried through the agent graph."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict


def merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: later nodes add keys to a dict instead of replacing it."""
    return {**(left or {}), **(right or {})}


def append(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer: later nodes append to a list."""
    return [*(left or []), *(right or [])]


class Query(TypedDict, total=False):
    """One SQL query of a turn: what it is for, where it came from, its guard verdict and rows."""

    id: str
    purpose: str
    source: str
    sql: str
    sources: list[str]
    final_sql: str
    guard: dict[str, Any]
    columns: list[str]
    labels: dict[str, str]
    definitions: list[str]
    rows: list[dict[str, Any]]
    error: str


class AgentState(TypedDict, total=False):
    """Everything a turn knows; claims in answers must point at `queries` ids or `knowledge` refs."""

    user_query: str
    plan_in: dict[str, Any] | None
    intent: str
    queries: list[Query]
    attempts: int
    sql_error: str | None
    sql_final_error: str | None
    knowledge: list[dict[str, Any]]
    answer: str
    report: dict[str, Any] | None
    evidence: dict[str, Any] | None
    plan: dict[str, Any] | None
    execution: dict[str, Any] | None
    debug: Annotated[dict[str, Any], merge]
    timings_ms: Annotated[dict[str, float], merge]
    llm_calls: Annotated[list[dict[str, Any]], append]
