"""Prices and budgets of an organisation: listing, adding prices (never editing them) and budget CRUD (audited)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import service as audit
from backend.auth.models import User
from backend.core.db import utcnow
from backend.core.errors import AppError, NotFound
from backend.cost import webhooks
from backend.cost.budgets import window_usage
from backend.cost.models import Budget, Price
from backend.cost.periods import today
from backend.cost.pricing import find_price
from backend.cost.schemas import BudgetIn, BudgetOut, BudgetPatch, PriceIn, PriceOut

# Clock skew tolerated between the console and the server for "effective now".
PAST_TOLERANCE = timedelta(minutes=5)


async def list_prices(
    session: AsyncSession, *, organization_id: uuid.UUID, provider: str | None = None, model: str | None = None
) -> list[PriceOut]:
    """List prices and the organisation's own, newest first, marking the row in force for each model."""
    statement = select(Price).where(or_(Price.organization_id == organization_id, Price.organization_id.is_(None)))
    if provider:
        statement = statement.where(Price.provider == provider)
    if model:
        statement = statement.where(Price.model == model)
    rows = (await session.scalars(statement.order_by(Price.provider, Price.model, Price.effective_from.desc()))).all()
    now = utcnow()
    seen: set[tuple[Any, str, str]] = set()
    items = []
    for row in rows:
        key = (row.organization_id, row.provider, row.model)
        current = row.effective_from <= now and key not in seen
        if current:
            seen.add(key)
        items.append(PriceOut.model_validate(row).model_copy(update={"current": current}))
    return items


async def add_price(session: AsyncSession, *, organization_id: uuid.UUID, actor_id: uuid.UUID, body: PriceIn) -> Price:
    """Add an organisation price effective now or later; earlier rows and past ledger costs stay as they are."""
    now = utcnow()
    effective_from = body.effective_from or now
    if effective_from.tzinfo is None:
        raise AppError("effective_from needs a time zone (e.g. 2026-01-01T00:00:00+08:00)", code="naive_datetime")
    if effective_from < now - PAST_TOLERANCE:
        raise AppError("a price cannot take effect in the past: history is never rewritten", code="price_in_past")
    previous = await find_price(
        session, organization_id=organization_id, provider=body.provider, model=body.model, at=effective_from
    )
    price = Price(
        organization_id=organization_id,
        provider=body.provider,
        model=body.model,
        effective_from=effective_from,
        input_per_million=body.input_per_million,
        cached_input_per_million=(
            body.cached_input_per_million if body.cached_input_per_million is not None else body.input_per_million
        ),
        output_per_million=body.output_per_million,
        currency=body.currency,
        tiers=[tier.model_dump(mode="json") for tier in body.tiers] if body.tiers else None,
        note=body.note,
        created_by=actor_id,
    )
    session.add(price)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        actor_id=actor_id,
        action="price.create",
        target_type="price",
        target_id=str(price.id),
        detail={"before": price_audit(previous) if previous else None, "after": price_audit(price)},
    )
    return price


def _plain(value: Decimal) -> str:
    """A decimal as the audit log keeps it: no exponent, no trailing zeros (50.00000000 and 50 are both "50")."""
    return format(Decimal(value).normalize(), "f")


def price_audit(price: Price) -> dict[str, Any]:
    """What the audit log keeps of a price."""
    return {
        "id": str(price.id),
        "list_price": price.organization_id is None,
        "provider": price.provider,
        "model": price.model,
        "effective_from": price.effective_from.isoformat(),
        "input_per_million": _plain(price.input_per_million),
        "cached_input_per_million": _plain(price.cached_input_per_million),
        "output_per_million": _plain(price.output_per_million),
        "currency": price.currency,
        "tiers": price.tiers,
        "note": price.note,
    }


def budget_audit(budget: Budget) -> dict[str, Any]:
    """What the audit log keeps of a budget: the webhook's destination only (its path and query may hold a key)."""
    return {
        "name": budget.name,
        "scope": budget.scope,
        "scope_id": str(budget.scope_id) if budget.scope_id else None,
        "period": budget.period,
        "quota_kind": budget.quota_kind,
        "quota": _plain(budget.quota),
        "soft_threshold": _plain(budget.soft_threshold),
        "hard_action": budget.hard_action,
        "downgrade_model": budget.downgrade_model,
        "webhook": webhooks.destination(budget.webhook_url) if budget.webhook_url else None,
        "enabled": budget.enabled,
    }


async def _check_webhook(url: str | None, *, allow_private: bool) -> None:
    if url is None:
        return
    try:
        await webhooks.validate(url, allow_private=allow_private)
    except webhooks.UnsafeWebhook as exc:
        raise AppError(str(exc), code="unsafe_webhook_url", status_code=422) from exc


async def budget_out(session: AsyncSession, budget: Budget) -> BudgetOut:
    """A budget with its current window's usage."""
    start, used = await window_usage(session, budget=budget, day=today())
    ratio = used / budget.quota if budget.quota else used
    return BudgetOut.model_validate(budget).model_copy(
        update={
            "window_start": start,
            "used": used,
            "ratio": ratio.quantize(Decimal("0.0001")),
            "exceeded": used >= budget.quota,
        }
    )


async def list_budgets(session: AsyncSession, *, organization_id: uuid.UUID) -> list[BudgetOut]:
    """Budgets of the organisation with their usage."""
    rows = (
        await session.scalars(
            select(Budget).where(Budget.organization_id == organization_id).order_by(Budget.created_at)
        )
    ).all()
    return [await budget_out(session, row) for row in rows]


async def _check_scope(
    session: AsyncSession, *, organization_id: uuid.UUID, scope: str, scope_id: uuid.UUID | None
) -> None:
    # Accounts live in another feature (no table to check yet); users can be checked now.
    if scope == "user":
        user = await session.get(User, scope_id)
        if user is None or user.organization_id != organization_id:
            raise NotFound(f"user {scope_id} not found")


async def create_budget(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    body: BudgetIn,
    allow_private_webhooks: bool = False,
) -> Budget:
    """Create a budget; its webhook must point at a public address unless private ones are allowed."""
    await _check_scope(session, organization_id=organization_id, scope=body.scope, scope_id=body.scope_id)
    values = body.model_dump()
    values["webhook_url"] = str(body.webhook_url) if body.webhook_url else None
    await _check_webhook(values["webhook_url"], allow_private=allow_private_webhooks)
    budget = Budget(organization_id=organization_id, **values)
    session.add(budget)
    await session.flush()
    await audit.record(
        session,
        organization_id=organization_id,
        actor_id=actor_id,
        action="budget.create",
        target_type="budget",
        target_id=str(budget.id),
        detail={"after": budget_audit(budget)},
    )
    return budget


async def get_budget(session: AsyncSession, *, organization_id: uuid.UUID, budget_id: uuid.UUID) -> Budget:
    """One budget of the organisation, or 404."""
    budget = await session.get(Budget, budget_id)
    if budget is None or budget.organization_id != organization_id:
        raise NotFound(f"budget {budget_id} not found")
    return budget


async def update_budget(
    session: AsyncSession,
    *,
    budget: Budget,
    actor_id: uuid.UUID | None,
    body: BudgetPatch,
    allow_private_webhooks: bool = False,
) -> Budget:
    """Apply the fields given in a patch (a new webhook is checked like on creation)."""
    before = budget_audit(budget)
    for name, value in body.model_dump(exclude_unset=True).items():
        if name == "webhook_url" and value is not None:
            value = str(value)
            await _check_webhook(value, allow_private=allow_private_webhooks)
        setattr(budget, name, value)
    await session.flush()
    await audit.record(
        session,
        organization_id=budget.organization_id,
        actor_id=actor_id,
        action="budget.update",
        target_type="budget",
        target_id=str(budget.id),
        detail=audit.changes(before, budget_audit(budget)),
    )
    return budget


async def delete_budget(session: AsyncSession, *, budget: Budget, actor_id: uuid.UUID | None) -> None:
    """Delete a budget (its raised alerts go with it; the ledger is untouched)."""
    await audit.record(
        session,
        organization_id=budget.organization_id,
        actor_id=actor_id,
        action="budget.delete",
        target_type="budget",
        target_id=str(budget.id),
        detail={"before": budget_audit(budget)},
    )
    await session.delete(budget)
    await session.flush()
