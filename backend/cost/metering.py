"""Metering: one ledger row per call attempt, priced exactly, with its rollups upserted in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.db import utcnow
from backend.cost.models import ConversationRollup, DailyRollup, LedgerEntry, Price
from backend.cost.periods import local_day
from backend.cost.pricing import QUANTUM, compute_cost, find_price

FAILED = frozenset({"error", "timeout"})


@dataclass(frozen=True)
class BilledPart:
    """Tokens billed at one model's price (a FastGPT workflow may bill several models in one call)."""

    model: str
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Attempt:
    """Everything known about one call attempt when it ends."""

    request_id: str
    call_id: uuid.UUID
    attempt: int
    organization_id: uuid.UUID
    origin: str
    purpose: str
    provider: str
    model: str
    status: str
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int = 0
    error: str | None = None
    offline: bool = False
    user_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    parts: list[BilledPart] = field(default_factory=list)
    at: datetime = field(default_factory=utcnow)


async def price_attempt(session: AsyncSession, attempt: Attempt) -> tuple[Decimal, Price | None]:
    """Exact cost of an attempt and the price row of its main model (offline calls cost nothing)."""
    if attempt.offline:
        return Decimal(0).quantize(QUANTUM), None

    async def lookup(model: str) -> Price | None:
        return await find_price(
            session, organization_id=attempt.organization_id, provider=attempt.provider, model=model, at=attempt.at
        )

    main_price = await lookup(attempt.model)
    if not attempt.parts:
        cost = compute_cost(
            main_price,
            input_tokens=attempt.input_tokens,
            cached_input_tokens=attempt.cached_input_tokens,
            output_tokens=attempt.output_tokens,
        )
        return cost, main_price
    cost = Decimal(0)
    for part in attempt.parts:
        price = main_price if part.model == attempt.model else await lookup(part.model)
        cost += compute_cost(
            price,
            input_tokens=part.input_tokens,
            cached_input_tokens=part.cached_input_tokens,
            output_tokens=part.output_tokens,
        )
    return cost.quantize(QUANTUM), main_price


async def record_attempt(session: AsyncSession, attempt: Attempt) -> LedgerEntry:
    """Append the ledger row of an attempt and add it to the daily and conversation rollups (caller commits)."""
    cost, price = await price_attempt(session, attempt)
    entry = LedgerEntry(
        request_id=attempt.request_id,
        call_id=attempt.call_id,
        attempt=attempt.attempt,
        organization_id=attempt.organization_id,
        user_id=attempt.user_id,
        account_id=attempt.account_id,
        conversation_id=attempt.conversation_id,
        origin=attempt.origin,
        purpose=attempt.purpose,
        provider=attempt.provider,
        model=attempt.model,
        input_tokens=attempt.input_tokens,
        cached_input_tokens=attempt.cached_input_tokens,
        output_tokens=attempt.output_tokens,
        latency_ms=attempt.latency_ms,
        status=attempt.status,
        error=attempt.error[:2000] if attempt.error else None,
        cost=cost,
        price_id=price.id if price else None,
        offline=attempt.offline,
        created_at=attempt.at,
    )
    session.add(entry)
    await session.flush()
    await add_to_rollups(session, entry)
    return entry


ROLLED_UP = ("calls", "failed_calls", "input_tokens", "cached_input_tokens", "output_tokens", "cost")


def _adding_upsert(model: type[DailyRollup] | type[ConversationRollup], constraint: str) -> Any:
    """INSERT of a rollup row that adds its totals to the existing row on conflict; built once, run with values."""
    table = cast(Table, model.__table__)
    statement = insert(table)
    return statement.on_conflict_do_update(
        constraint=constraint, set_={name: table.c[name] + statement.excluded[name] for name in ROLLED_UP}
    )


UPSERT_DAILY_ROLLUP = _adding_upsert(DailyRollup, "uq_cost_daily_rollups_key")
UPSERT_CONVERSATION_ROLLUP = _adding_upsert(ConversationRollup, "uq_cost_conv_rollups_key")


async def add_to_rollups(session: AsyncSession, entry: LedgerEntry) -> None:
    """Upsert the entry's totals into its daily rollup row (and conversation rollup row when it has one)."""
    sums = {
        "calls": 1,
        "failed_calls": 1 if entry.status in FAILED else 0,
        "input_tokens": entry.input_tokens,
        "cached_input_tokens": entry.cached_input_tokens,
        "output_tokens": entry.output_tokens,
        "cost": entry.cost,
    }
    day = local_day(entry.created_at)
    await session.execute(
        UPSERT_DAILY_ROLLUP,
        {
            "organization_id": entry.organization_id,
            "day": day,
            "provider": entry.provider,
            "model": entry.model,
            "origin": entry.origin,
            "account_id": entry.account_id,
            "user_id": entry.user_id,
            **sums,
        },
    )
    if entry.conversation_id is not None:
        await session.execute(
            UPSERT_CONVERSATION_ROLLUP,
            {"organization_id": entry.organization_id, "day": day, "conversation_id": entry.conversation_id, **sums},
        )
