"""Runs guarded SQL as the read-only role inside a read-only transaction with a statement timeout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.agent.models import READ_ONLY_ROLE
from backend.agent.timeframe import TZ


class QueryFailed(RuntimeError):
    """The database refused or aborted a query; `timeout` marks a final, not-to-be-retried failure."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass
class QueryResult:
    """Rows as JSON-safe dicts."""

    columns: list[str]
    rows: list[dict[str, Any]]


def json_value(value: Any) -> Any:
    """Decimals as floats, dates as ISO strings: what the API returns."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def run_readonly(engine: AsyncEngine, sql: str, *, timeout_ms: int = 5000, max_rows: int = 1000) -> QueryResult:
    """Execute one statement as `salesbot_agent_ro` in a READ ONLY transaction; never commits."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            await conn.execute(text("SET TRANSACTION READ ONLY"))
            await conn.execute(text(f"SET LOCAL ROLE {READ_ONLY_ROLE}"))
            await conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
            result = await conn.exec_driver_sql(sql)
            columns = list(result.keys())
            rows = [dict(zip(columns, (json_value(v) for v in row), strict=True)) for row in result.fetchmany(max_rows)]
        except DBAPIError as exc:
            cause = str(getattr(exc.orig, "__cause__", None) or exc.orig)
            raise QueryFailed(cause.strip().splitlines()[0], timeout="statement timeout" in cause) from exc
        finally:
            await transaction.rollback()
    return QueryResult(columns, rows)


async def data_anchor(engine: AsyncEngine) -> date:
    """The China day of the latest order: "today" for the agent's time ranges."""
    async with engine.connect() as conn:
        latest = await conn.scalar(text("SELECT max(paid_at) FROM retail.orders"))
    return (latest or datetime.now(TZ)).astimezone(TZ).date()
