"""Budget windows computed from the rollups (never a counter), and alerts raised once per window and level."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.cost.models import Budget, BudgetAlert, DailyRollup
from backend.cost.periods import today, window_start
from backend.realtime.service import publish


@dataclass(frozen=True)
class BudgetStatus:
    """Where a budget stands in its current window."""

    budget: Budget
    window_start: date
    used: Decimal

    @property
    def ratio(self) -> Decimal:
        """Used share of the quota."""
        return self.used / self.budget.quota if self.budget.quota else Decimal(0)

    @property
    def soft_reached(self) -> bool:
        """At or past the soft threshold."""
        return self.used >= self.budget.quota * self.budget.soft_threshold

    @property
    def exceeded(self) -> bool:
        """At or past the quota: the hard action applies."""
        return self.used >= self.budget.quota


async def window_usage(session: AsyncSession, *, budget: Budget, day: date) -> tuple[date, Decimal]:
    """(window start, money or tokens used in the window containing `day`) for a budget."""
    start = window_start(budget.period, day)
    if budget.quota_kind == "money":
        measure = func.coalesce(func.sum(DailyRollup.cost), 0)
    else:
        measure = func.coalesce(func.sum(DailyRollup.input_tokens + DailyRollup.output_tokens), 0)
    statement = select(measure).where(
        DailyRollup.organization_id == budget.organization_id, DailyRollup.day >= start, DailyRollup.day <= day
    )
    if budget.scope == "account":
        statement = statement.where(DailyRollup.account_id == budget.scope_id)
    elif budget.scope == "user":
        statement = statement.where(DailyRollup.user_id == budget.scope_id)
    return start, Decimal(await session.scalar(statement) or 0)


async def applicable_statuses(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    user_id: uuid.UUID | None,
    account_id: uuid.UUID | None,
    day: date | None = None,
) -> list[BudgetStatus]:
    """Current window status of every enabled budget covering a call of this organisation, user and account."""
    scopes = [Budget.scope == "organization"]
    if account_id is not None:
        scopes.append(and_(Budget.scope == "account", Budget.scope_id == account_id))
    if user_id is not None:
        scopes.append(and_(Budget.scope == "user", Budget.scope_id == user_id))
    budgets = (
        await session.scalars(
            select(Budget)
            .where(Budget.organization_id == organization_id, Budget.enabled.is_(True), or_(*scopes))
            .order_by(Budget.created_at)
        )
    ).all()
    day = day or today()
    statuses = []
    for budget in budgets:
        start, used = await window_usage(session, budget=budget, day=day)
        statuses.append(BudgetStatus(budget, start, used))
    return statuses


def alert_payload(status: BudgetStatus, level: str) -> dict[str, Any]:
    """The `cost.alert` event data (also the webhook body)."""
    budget = status.budget
    return {
        "budget_id": str(budget.id),
        "name": budget.name,
        "scope": budget.scope,
        "scope_id": str(budget.scope_id) if budget.scope_id else None,
        "level": level,
        "period": budget.period,
        "window_start": status.window_start.isoformat(),
        "quota_kind": budget.quota_kind,
        "quota": str(budget.quota),
        "used": str(status.used),
        "ratio": str(status.ratio.quantize(Decimal("0.0001"))),
        "action": budget.hard_action if level == "hard" else "alert",
    }


async def raise_alerts(session: AsyncSession, statuses: list[BudgetStatus]) -> list[tuple[Budget, dict[str, Any]]]:
    """Raise each threshold crossed for the first time in its window: store, publish `cost.alert`; return them."""
    raised: list[tuple[Budget, dict[str, Any]]] = []
    for status in statuses:
        levels = [level for level, hit in (("soft", status.soft_reached), ("hard", status.exceeded)) if hit]
        for level in levels:
            # The unique key (budget, window, level) makes this once-only across concurrent writers.
            inserted = await session.scalar(
                insert(BudgetAlert)
                .values(
                    budget_id=status.budget.id,
                    window_start=status.window_start,
                    level=level,
                    used=status.used,
                    quota=status.budget.quota,
                )
                .on_conflict_do_nothing(index_elements=["budget_id", "window_start", "level"])
                .returning(BudgetAlert.id)
            )
            if inserted is None:
                continue
            payload = alert_payload(status, level)
            publish(session, organization_id=status.budget.organization_id, type="cost.alert", data=payload)
            raised.append((status.budget, payload))
    return raised
