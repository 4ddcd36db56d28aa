"""Agent API payloads and the strict campaign plan model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.agent.models import MONEY_MAX
from backend.core.db import INT_MAX
from backend.core.inputs import Text

Intent = Literal["report", "diagnose", "plan", "execute"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetSegment(_Strict):
    """Who the campaign addresses."""

    definition: Text = Field(min_length=1)
    rules: list[Text] = Field(min_length=1)
    estimated_size: int | None = Field(None, ge=0, description="Members matching the rules, counted by SQL.")


class Offer(_Strict):
    """The coupon of the campaign."""

    type: Literal["full_reduction", "discount", "points"]
    threshold: float = Field(ge=0, le=float(MONEY_MAX))
    value: float = Field(gt=0, le=float(MONEY_MAX))
    max_redemptions: int = Field(ge=1, le=INT_MAX)


class Kpi(_Strict):
    """How success is measured."""

    primary: Text = Field(min_length=1)
    targets: list[Text] = Field(min_length=1)


class CampaignPlan(_Strict):
    """A campaign plan the manager can publish as-is."""

    goal: Text = Field(min_length=1)
    duration_days: int = Field(ge=1, le=90)
    budget: float = Field(gt=0, le=float(MONEY_MAX))
    target_segment: TargetSegment
    offer: Offer
    channels: list[Literal["app_push", "sms", "wechat"]] = Field(min_length=1)
    kpi: Kpi
    risk_controls: list[Text] = Field(min_length=1)
    sql_preview: Text | None = None


class ChatIn(BaseModel):
    """A question, optionally with a plan to act on."""

    query: Text = Field(min_length=1, max_length=2000)
    plan: CampaignPlan | None = None


class ExecuteIn(BaseModel):
    """A plan to publish."""

    plan: CampaignPlan


class Report(BaseModel):
    """Tabular answer."""

    columns: list[str]
    labels: dict[str, str]
    rows: list[dict[str, Any]]
    definitions: list[str] = Field(default_factory=list)


class Execution(BaseModel):
    """Receipt of a coupon publication."""

    idempotency_key: str
    coupon_id: int | None
    publish_status: str | None
    error: str | None = None
    replayed: bool = False


class ChatOut(BaseModel):
    """Answer of the agent."""

    intent: Intent
    answer: str
    report: Report | None = None
    plan: CampaignPlan | None = None
    evidence: dict[str, Any] | None = None
    execution: Execution | None = None
    debug: dict[str, Any]


class ExecuteOut(BaseModel):
    """Answer of an execution."""

    intent: Literal["execute"] = "execute"
    execution: Execution
    debug: dict[str, Any]
