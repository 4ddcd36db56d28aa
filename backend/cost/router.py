"""Routes under /api/cost: summary, ledger, CSV export, prices and budgets (admin and finance only)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from backend.core.deps import SessionDep, SettingsDep
from backend.core.inputs import Instant, Text
from backend.cost import reports, service
from backend.cost.deps import FinanceUser
from backend.cost.periods import today
from backend.cost.schemas import (
    BudgetIn,
    BudgetOut,
    BudgetPage,
    BudgetPatch,
    GroupBy,
    LedgerPage,
    PriceIn,
    PriceOut,
    PricePage,
    Summary,
)

router = APIRouter(prefix="/api/cost", tags=["cost"])


def ledger_filter(
    time_from: Annotated[Instant | None, Query(alias="from", description="Instant, inclusive.")] = None,
    time_to: Annotated[Instant | None, Query(alias="to", description="Instant, exclusive.")] = None,
    model: Text | None = None,
    provider: Text | None = None,
    account_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    conversation_id: uuid.UUID | None = None,
    origin: Text | None = None,
    status: Text | None = None,
) -> reports.LedgerFilter:
    """Ledger filters from the query string, checked here because the CSV export queries after streaming starts."""
    return reports.LedgerFilter(
        time_from, time_to, model, provider, account_id, user_id, conversation_id, origin, status
    )


LedgerFilterDep = Annotated[reports.LedgerFilter, Depends(ledger_filter)]


@router.get("/summary", response_model=Summary, response_model_by_alias=True)
async def get_summary(
    user: FinanceUser,
    session: SessionDep,
    group_by: GroupBy = "day",
    date_from: Annotated[date | None, Query(alias="from", description="China-time day; default 29 days ago.")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="China-time day, inclusive; default today.")] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=5000,
            description="Groups listed; conversation, account, user: the top ones by cost, default 100, at most "
            "1000 (with `groups` and `rest` for the others); day,model: default 5000; others: default 500.",
        ),
    ] = None,
) -> Summary:
    """Calls, tokens and cost grouped by day, model, provider, account, user, conversation, origin or day,model."""
    end = date_to or today()
    # 30 days up to `end`, fewer when `end` is within a month of 0001-01-01 (date arithmetic would overflow)
    start = date_from or end - timedelta(days=min(29, end.toordinal() - 1))
    return await reports.summary(
        session, organization_id=user.organization_id, group_by=group_by, date_from=start, date_to=end, limit=limit
    )


@router.get("/ledger", response_model=LedgerPage)
async def get_ledger(
    user: FinanceUser,
    session: SessionDep,
    filters: LedgerFilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> LedgerPage:
    """Ledger rows newest first, filtered, a page at a time."""
    return await reports.ledger_page(
        session, organization_id=user.organization_id, filters=filters, limit=limit, cursor=cursor
    )


@router.get("/export.csv", response_class=StreamingResponse)
async def export_csv(user: FinanceUser, request: Request, filters: LedgerFilterDep) -> StreamingResponse:
    """The filtered ledger as a streamed CSV file (UTF-8 with BOM, opens in Excel)."""
    stream = reports.export_csv(request.app.state.database, organization_id=user.organization_id, filters=filters)
    filename = f"cost-ledger-{today().isoformat()}.csv"
    return StreamingResponse(
        stream,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/prices", response_model=PricePage)
async def get_prices(
    user: FinanceUser, session: SessionDep, provider: Text | None = None, model: Text | None = None
) -> PricePage:
    """List prices and the organisation's own, with the row in force marked `current`."""
    items = await service.list_prices(session, organization_id=user.organization_id, provider=provider, model=model)
    return PricePage(items=items)


@router.post("/prices", response_model=PriceOut, status_code=status.HTTP_201_CREATED)
async def post_price(body: PriceIn, user: FinanceUser, session: SessionDep) -> PriceOut:
    """Add a price for the organisation, effective now or later (never rewriting earlier prices or costs)."""
    price = await service.add_price(session, organization_id=user.organization_id, actor_id=user.id, body=body)
    return PriceOut.model_validate(price)


@router.get("/budgets", response_model=BudgetPage)
async def get_budgets(user: FinanceUser, session: SessionDep) -> BudgetPage:
    """Budgets of the organisation with their current usage."""
    return BudgetPage(items=await service.list_budgets(session, organization_id=user.organization_id))


@router.post("/budgets", response_model=BudgetOut, status_code=status.HTTP_201_CREATED)
async def post_budget(body: BudgetIn, user: FinanceUser, session: SessionDep, settings: SettingsDep) -> BudgetOut:
    """Create a budget (a webhook must point at a public address unless WEBHOOK_ALLOW_PRIVATE)."""
    budget = await service.create_budget(
        session,
        organization_id=user.organization_id,
        actor_id=user.id,
        body=body,
        allow_private_webhooks=settings.security.webhook_allow_private,
    )
    return await service.budget_out(session, budget)


@router.get("/budgets/{budget_id}", response_model=BudgetOut)
async def get_budget(budget_id: uuid.UUID, user: FinanceUser, session: SessionDep) -> BudgetOut:
    """One budget with its usage."""
    budget = await service.get_budget(session, organization_id=user.organization_id, budget_id=budget_id)
    return await service.budget_out(session, budget)


@router.patch("/budgets/{budget_id}", response_model=BudgetOut)
async def patch_budget(
    budget_id: uuid.UUID, body: BudgetPatch, user: FinanceUser, session: SessionDep, settings: SettingsDep
) -> BudgetOut:
    """Change a budget."""
    budget = await service.get_budget(session, organization_id=user.organization_id, budget_id=budget_id)
    updated = await service.update_budget(
        session,
        budget=budget,
        actor_id=user.id,
        body=body,
        allow_private_webhooks=settings.security.webhook_allow_private,
    )
    return await service.budget_out(session, updated)


@router.delete("/budgets/{budget_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_budget(budget_id: uuid.UUID, user: FinanceUser, session: SessionDep) -> Response:
    """Delete a budget."""
    budget = await service.get_budget(session, organization_id=user.organization_id, budget_id=budget_id)
    await service.delete_budget(session, budget=budget, actor_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
