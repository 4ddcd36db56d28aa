"""Request and response bodies of the cost API (money as exact decimal strings, CNY)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, UrlConstraints, model_validator

from backend.core.inputs import Instant, Text
from backend.cost.webhooks import url_problem

Scope = Literal["organization", "account", "user"]
Period = Literal["daily", "monthly"]
QuotaKind = Literal["money", "tokens"]
HardAction = Literal["alert", "downgrade_model", "stop_ai", "pause_sop"]
GroupBy = Literal["day", "model", "provider", "account", "user", "conversation", "origin", "day,model"]
# Groupings with many keys: the report lists the top `limit` groups by cost and sums up the rest.
TOP_GROUPINGS: tuple[GroupBy, ...] = ("conversation", "account", "user")
Rate = Decimal


def _plain_webhook(url: HttpUrl) -> HttpUrl:
    problem = url_problem(str(url))
    if problem:
        raise ValueError(problem)
    return url


# http(s), no credentials, short enough for its column; where it points is checked by the service (DNS).
WebhookUrl = Annotated[HttpUrl, UrlConstraints(max_length=500), AfterValidator(_plain_webhook)]


class PriceTier(BaseModel):
    """Rates for prompts up to max_input_tokens (None: any length), per 1M tokens."""

    max_input_tokens: int | None = Field(None, gt=0)
    input: Rate = Field(ge=0)
    cached_input: Rate | None = Field(None, ge=0)
    output: Rate = Field(ge=0)


class PriceIn(BaseModel):
    """A new price taking effect now or later; history is never rewritten."""

    provider: Text = Field(min_length=1, max_length=32)
    model: Text = Field(min_length=1, max_length=120)
    input_per_million: Rate = Field(ge=0, max_digits=14, decimal_places=6)
    cached_input_per_million: Rate | None = Field(None, ge=0, max_digits=14, decimal_places=6)
    output_per_million: Rate = Field(ge=0, max_digits=14, decimal_places=6)
    effective_from: Instant | None = Field(None, description="Default: now. Must not be in the past.")
    currency: Literal["CNY"] = "CNY"
    tiers: list[PriceTier] | None = None
    note: Text = Field("", max_length=500)


class PriceOut(BaseModel):
    """A price row; organization_id null marks a list price."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID | None
    provider: str
    model: str
    effective_from: datetime
    input_per_million: Decimal
    cached_input_per_million: Decimal
    output_per_million: Decimal
    currency: str
    tiers: list[PriceTier] | None
    note: str
    current: bool = False


class PricePage(BaseModel):
    """Prices visible to the organisation, newest first per model."""

    items: list[PriceOut]


class BudgetIn(BaseModel):
    """A budget of the organisation, one WeChat account or one user."""

    name: Text = Field(min_length=1, max_length=120)
    scope: Scope = "organization"
    scope_id: uuid.UUID | None = None
    period: Period = "monthly"
    quota_kind: QuotaKind = "money"
    quota: Decimal = Field(gt=0, max_digits=20, decimal_places=8)
    soft_threshold: Decimal = Field(Decimal("0.8"), gt=0, le=1, decimal_places=3)
    hard_action: HardAction = "alert"
    downgrade_model: Text | None = Field(None, max_length=120)
    webhook_url: WebhookUrl | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _scope_id_matches(self) -> BudgetIn:
        if (self.scope == "organization") != (self.scope_id is None):
            raise ValueError("scope_id is required for account and user budgets, and not allowed for organization")
        return self


class BudgetPatch(BaseModel):
    """Changes to a budget; omitted fields stay."""

    name: Text | None = Field(None, min_length=1, max_length=120)
    period: Period | None = None
    quota_kind: QuotaKind | None = None
    quota: Decimal | None = Field(None, gt=0, max_digits=20, decimal_places=8)
    soft_threshold: Decimal | None = Field(None, gt=0, le=1, decimal_places=3)
    hard_action: HardAction | None = None
    downgrade_model: Text | None = Field(None, max_length=120)
    webhook_url: WebhookUrl | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> BudgetPatch:
        # null clears downgrade_model and webhook_url; the other columns always hold a value.
        nulled = [
            name for name in _NOT_NULL_BUDGET_FIELDS if name in self.model_fields_set and getattr(self, name) is None
        ]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null; omit a field to keep its value")
        return self


_NOT_NULL_BUDGET_FIELDS = ("name", "period", "quota_kind", "quota", "soft_threshold", "hard_action", "enabled")


class BudgetOut(BaseModel):
    """A budget with its current window's usage."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    scope: Scope
    scope_id: uuid.UUID | None
    period: Period
    quota_kind: QuotaKind
    quota: Decimal
    soft_threshold: Decimal
    hard_action: HardAction
    downgrade_model: str | None
    webhook_url: str | None
    enabled: bool
    created_at: datetime
    window_start: date | None = None
    used: Decimal = Decimal(0)
    ratio: Decimal = Decimal(0)
    exceeded: bool = False


class BudgetPage(BaseModel):
    """Budgets of the organisation."""

    items: list[BudgetOut]


class Totals(BaseModel):
    """Summed usage and cost."""

    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)


class SummaryItem(Totals):
    """Totals of one group (a day, model, provider, account, user, conversation or origin)."""

    key: str | None
    sub_key: str | None = Field(None, description="Second key of a two-dimension grouping (the model of day,model).")


class Summary(BaseModel):
    """A cost report over a date range (China-time days, both ends included)."""

    group_by: GroupBy
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    currency: str = "CNY"
    total: Totals
    items: list[SummaryItem]
    groups: int | None = Field(
        None, description="conversation, account, user: how many groups the period has (items holds the top ones)."
    )
    rest: Totals | None = Field(
        None, description="conversation, account, user: totals of the groups beyond the listed top ones."
    )


class LedgerOut(BaseModel):
    """One ledger row."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: str
    call_id: uuid.UUID
    attempt: int
    user_id: uuid.UUID | None
    account_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    origin: str
    purpose: str
    provider: str
    model: str
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    latency_ms: int
    status: str
    error: str | None
    cost: Decimal
    currency: str
    price_id: uuid.UUID | None
    offline: bool
    created_at: datetime


class LedgerPage(BaseModel):
    """A page of ledger rows, newest first; pass next_cursor as cursor for the next page."""

    items: list[LedgerOut]
    next_cursor: str | None
