"""Price look-up (effective-dated, organisation override first) and exact cost arithmetic."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.cost.models import Price

MILLION = Decimal(1_000_000)
QUANTUM = Decimal("1e-8")


async def find_price(
    session: AsyncSession, *, organization_id: uuid.UUID, provider: str, model: str, at: datetime
) -> Price | None:
    """The price in force at `at`: the organisation's own before list prices, the provider's before any other."""
    candidates = (
        await session.scalars(
            select(Price)
            .where(
                Price.model == model,
                Price.effective_from <= at,
                or_(Price.organization_id == organization_id, Price.organization_id.is_(None)),
            )
            .order_by(
                Price.organization_id.is_(None),
                (Price.provider != provider),
                Price.effective_from.desc(),
            )
            .limit(1)
        )
    ).first()
    return candidates


def rates_for(price: Price, input_tokens: int) -> tuple[Decimal, Decimal, Decimal]:
    """(input, cached input, output) per 1M tokens; a tier applies when the prompt is within its max_input_tokens."""
    for tier in sorted(price.tiers or [], key=lambda t: t.get("max_input_tokens") or float("inf")):
        limit = tier.get("max_input_tokens")
        if limit is None or input_tokens <= int(limit):
            return (
                Decimal(str(tier["input"])),
                Decimal(str(tier.get("cached_input", tier["input"]))),
                Decimal(str(tier["output"])),
            )
    return price.input_per_million, price.cached_input_per_million, price.output_per_million


def compute_cost(price: Price | None, *, input_tokens: int, cached_input_tokens: int, output_tokens: int) -> Decimal:
    """(input - cached) x input + cached x cached + output x output, per 1M tokens, quantised to 1e-8 CNY."""
    if price is None:
        return Decimal(0).quantize(QUANTUM)
    input_rate, cached_rate, output_rate = rates_for(price, input_tokens)
    cached = min(cached_input_tokens, input_tokens)
    total = (
        Decimal(input_tokens - cached) * input_rate
        + Decimal(cached) * cached_rate
        + Decimal(output_tokens) * output_rate
    ) / MILLION
    return total.quantize(QUANTUM)
