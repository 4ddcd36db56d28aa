"""Finance reports: summaries from the rollups, the ledger with keyset pagination, and the CSV export."""

from __future__ import annotations

import base64
import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.db import BIGINT_MAX, Database
from backend.core.errors import AppError
from backend.core.inputs import storable_instant
from backend.cost.models import ConversationRollup, DailyRollup, LedgerEntry
from backend.cost.schemas import TOP_GROUPINGS, GroupBy, LedgerOut, LedgerPage, Summary, SummaryItem, Totals

SUMS = ("calls", "failed_calls", "input_tokens", "cached_input_tokens", "output_tokens", "cost")
CSV_COLUMNS = (
    "created_at",
    "request_id",
    "call_id",
    "attempt",
    "status",
    "origin",
    "purpose",
    "provider",
    "model",
    "user_id",
    "account_id",
    "conversation_id",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "latency_ms",
    "cost",
    "currency",
    "offline",
    "error",
)


TOP_LIMIT_DEFAULT, TOP_LIMIT_MAX = 100, 1000
LIMIT_DEFAULT = {"day,model": 5000}


def default_limit(group_by: GroupBy) -> int:
    """Groups listed when the request names no limit: the top 100 of high-cardinality groupings, else 500."""
    return TOP_LIMIT_DEFAULT if group_by in TOP_GROUPINGS else LIMIT_DEFAULT.get(group_by, 500)


async def summary(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    group_by: GroupBy,
    date_from: date,
    date_to: date,
    limit: int | None = None,
) -> Summary:
    """Totals per group over China-time days date_from..date_to, read from the rollups.

    Conversations, accounts and users are many: those groupings list the top `limit` groups by cost (at most
    1000) and report how many groups there are and the totals of the rest.
    """
    limit = limit or default_limit(group_by)
    if group_by in TOP_GROUPINGS and limit > TOP_LIMIT_MAX:
        raise AppError(f"limit is at most {TOP_LIMIT_MAX} for group_by={group_by}", code="limit_too_large")
    # Grouping tens of thousands of conversations spills to disk at the default 4 MB; this transaction only.
    await session.execute(text("SET LOCAL work_mem = '64MB'"))
    # After five runs of a prepared statement PostgreSQL may switch to a generic plan that ignores the dates and
    # the limit; over the conversation rollups that plan is 2-3x slower. Planning these few statements is cheap.
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    # Conversation rollups only hold calls made in a conversation; the total always comes from the daily rollup.
    total_row = (
        await session.execute(
            select(*[func.coalesce(func.sum(getattr(DailyRollup, name)), 0) for name in SUMS]).where(
                DailyRollup.organization_id == organization_id, DailyRollup.day >= date_from, DailyRollup.day <= date_to
            )
        )
    ).one()
    result = Summary(
        group_by=group_by,
        date_from=date_from,
        date_to=date_to,
        total=Totals(**dict(zip(SUMS, total_row, strict=True))),
        items=[],
    )
    table: Any = ConversationRollup if group_by == "conversation" else DailyRollup
    where = (table.organization_id == organization_id, table.day >= date_from, table.day <= date_to)
    sums = [func.coalesce(func.sum(getattr(table, name)), 0).label(name) for name in SUMS]
    if group_by == "day,model":
        grouped = (
            select(DailyRollup.day.label("key"), DailyRollup.model.label("sub_key"), *sums)
            .where(*where)
            .group_by(DailyRollup.day, DailyRollup.model)
            .order_by(DailyRollup.day, DailyRollup.model)
        )
        rows = (await session.execute(grouped.limit(limit))).all()
        result.items = [_item(row, sub_key=row.sub_key) for row in rows]
        return result
    if group_by == "conversation":
        return await _top_conversations(session, result, where=where, limit=limit)
    key_column = getattr(DailyRollup, _column(group_by))
    if group_by in TOP_GROUPINGS:
        return await _top_groups(session, result, table=table, key_column=key_column, where=where, limit=limit)
    grouped = select(key_column.label("key"), *sums).where(*where).group_by(key_column)
    ordered = (
        grouped.order_by(key_column) if group_by == "day" else grouped.order_by(func.sum(table.cost).desc(), key_column)
    )
    result.items = [_item(row) for row in (await session.execute(ordered.limit(limit))).all()]
    return result


async def _top_groups(
    session: AsyncSession, result: Summary, *, table: Any, key_column: Any, where: tuple[Any, ...], limit: int
) -> Summary:
    """The top `limit` groups by cost, the number of groups and the totals of the others, in one statement.

    Window functions over the grouped rows count the groups and sum all of them before LIMIT cuts the list,
    so neither the groups nor the rest need a second pass over the rollup.
    """
    overall = [func.sum(func.sum(getattr(table, name))).over().label(f"all_{name}") for name in SUMS]
    statement = (
        select(
            key_column.label("key"),
            *[func.sum(getattr(table, name)).label(name) for name in SUMS],
            func.count().over().label("groups"),
            *overall,
        )
        .where(*where)
        .group_by(key_column)
        .order_by(func.sum(table.cost).desc(), key_column)
        .limit(limit)
    )
    rows = (await session.execute(statement)).all()
    result.items = [_item(row) for row in rows]
    result.groups = rows[0].groups if rows else 0
    result.rest = Totals(
        **{
            name: (getattr(rows[0], f"all_{name}") if rows else 0) - sum(getattr(row, name) for row in rows)
            for name in SUMS
        }
    )
    return result


async def _top_conversations(session: AsyncSession, result: Summary, *, where: tuple[Any, ...], limit: int) -> Summary:
    """The top `limit` conversations by cost, how many there are and the totals of the others.

    Conversations are the many groups (tens of thousands a month), so the work per rollup row is kept small:
    the ranking sums only the cost, streaming down ix_cost_conv_rollups_org_conv_day (index-only, already in
    conversation order: a group aggregate, no hash table of every conversation); the other sums are read for
    the listed conversations only, and once, without grouping, for the whole period.
    """
    table = ConversationRollup
    # The planner prices the hash aggregate lower, but feeding it every rollup row costs twice the sorted scan.
    await session.execute(text("SET LOCAL enable_hashagg = off"))
    ranked = (
        await session.execute(
            select(table.conversation_id, func.count().over().label("groups"))
            .where(*where)
            .group_by(table.conversation_id)
            .order_by(func.sum(table.cost).desc(), table.conversation_id)
            .limit(limit)
        )
    ).all()
    await session.execute(text("RESET enable_hashagg"))
    sums = [func.coalesce(func.sum(getattr(table, name)), 0).label(name) for name in SUMS]
    keys = [row.conversation_id for row in ranked]
    details = (
        {
            row.key: row
            for row in (
                await session.execute(
                    select(table.conversation_id.label("key"), *sums)
                    .where(*where, table.conversation_id.in_(keys))
                    .group_by(table.conversation_id)
                )
            ).all()
        }
        if keys
        else {}
    )
    result.items = [_item(details[key]) for key in keys]
    result.groups = ranked[0].groups if ranked else 0
    everything = (await session.execute(select(*sums).where(*where))).one()
    result.rest = Totals(
        **{name: getattr(everything, name) - sum(getattr(item, name) for item in result.items) for name in SUMS}
    )
    return result


def _item(row: Any, *, sub_key: Any = None) -> SummaryItem:
    return SummaryItem(
        key=None if row.key is None else str(row.key),
        sub_key=None if sub_key is None else str(sub_key),
        **{name: getattr(row, name) for name in SUMS},
    )


def _column(group_by: GroupBy) -> str:
    return {"account": "account_id", "user": "user_id"}.get(group_by, group_by)


@dataclass(frozen=True)
class LedgerFilter:
    """Filters of the ledger listing and export (times are instants, `to` exclusive)."""

    time_from: datetime | None = None
    time_to: datetime | None = None
    model: str | None = None
    provider: str | None = None
    account_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    origin: str | None = None
    status: str | None = None

    def apply(self, statement: Select[Any], organization_id: uuid.UUID) -> Select[Any]:
        """The statement restricted to the organisation and these filters."""
        statement = statement.where(LedgerEntry.organization_id == organization_id)
        if self.time_from is not None:
            statement = statement.where(LedgerEntry.created_at >= self.time_from)
        if self.time_to is not None:
            statement = statement.where(LedgerEntry.created_at < self.time_to)
        for name in ("model", "provider", "account_id", "user_id", "conversation_id", "origin", "status"):
            value = getattr(self, name)
            if value is not None:
                statement = statement.where(getattr(LedgerEntry, name) == value)
        return statement


def encode_cursor(entry: LedgerEntry) -> str:
    """An opaque cursor pointing after this row."""
    return base64.urlsafe_b64encode(f"{entry.created_at.isoformat()}|{entry.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(created_at, id) of a cursor; 400 when it is not one of ours."""
    try:
        created_at, entry_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        at, position = storable_instant(datetime.fromisoformat(created_at)), int(entry_id)
        if not 0 <= position <= BIGINT_MAX:
            raise ValueError("cursor id out of range")
        return at, position
    except (ValueError, UnicodeDecodeError) as exc:
        raise AppError("invalid cursor", code="invalid_cursor") from exc


async def ledger_page(
    session: AsyncSession, *, organization_id: uuid.UUID, filters: LedgerFilter, limit: int, cursor: str | None
) -> LedgerPage:
    """Ledger rows newest first, `limit` at a time, continuing after the cursor."""
    statement = filters.apply(select(LedgerEntry), organization_id)
    if cursor:
        created_at, entry_id = decode_cursor(cursor)
        statement = statement.where(tuple_(LedgerEntry.created_at, LedgerEntry.id) < tuple_(created_at, entry_id))
    rows = (
        await session.scalars(statement.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit + 1))
    ).all()
    items = [LedgerOut.model_validate(row) for row in rows[:limit]]
    return LedgerPage(items=items, next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None)


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return "" if value is None else value


async def export_csv(
    database: Database, *, organization_id: uuid.UUID, filters: LedgerFilter, chunk_rows: int = 2000
) -> AsyncIterator[bytes]:
    """The filtered ledger as CSV bytes, UTF-8 with a BOM (Excel), streamed from a server-side cursor."""
    yield "\ufeff".encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    columns = [getattr(LedgerEntry, name) for name in CSV_COLUMNS]
    statement = filters.apply(select(*columns), organization_id).order_by(LedgerEntry.created_at, LedgerEntry.id)
    # Its own session: the response streams after the request's session is closed.
    async with database.sessionmaker() as session:
        result = await session.stream(statement.execution_options(yield_per=chunk_rows))
        async for partition in result.partitions(chunk_rows):
            for row in partition:
                writer.writerow([_csv_value(value) for value in row])
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()
