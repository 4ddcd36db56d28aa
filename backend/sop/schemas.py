"""SOP API bodies: definitions (targets, steps, timing), preview, progress and deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.core.inputs import Instant, Text
from backend.sop.timing import parse_cron

SopStatus = Literal["draft", "running", "paused", "cancelled", "completed"]
DeliveryStatus = Literal["pending", "claimed", "sending", "sent", "skipped", "dead", "cancelled"]
LocalTime = time  # StepTiming has a field named `time`


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetSpec(_Strict):
    """Who receives a SOP: explicit contacts, or every contact of the chosen accounts matching kind and tags."""

    account_ids: list[uuid.UUID] = Field(default_factory=list, description="Empty: every account of the organisation.")
    kinds: Literal["friends", "groups", "all"] = "friends"
    tags: list[Text] = Field(default_factory=list, description="Customer tags; empty: no tag filter.")
    tag_mode: Literal["any", "all"] = Field("any", description="any = OR, all = AND.")
    contact_ids: list[uuid.UUID] = Field(
        default_factory=list, description="Explicit friends or groups; when given, kind and tag filters are ignored."
    )


class StepContent(_Strict):
    """What a step sends; text may use {昵称} {备注} {称呼} {账号} {日期} {星期}."""

    kind: Literal["text", "image", "link", "file"] = "text"
    text: Text = Field("", max_length=2000)
    image_url: Text = ""
    title: Text = Field("", max_length=120)
    description: Text = Field("", max_length=300)
    url: Text = ""
    thumb_url: Text = ""
    file_url: Text = ""
    file_name: Text = ""

    @model_validator(mode="after")
    def _required_fields(self) -> Self:
        required = {
            "text": ("text",),
            "image": ("image_url",),
            "link": ("title", "url"),
            "file": ("file_url", "file_name"),
        }[self.kind]
        missing = [name for name in required if not getattr(self, name).strip()]
        if missing:
            raise ValueError(f"a {self.kind} step needs {', '.join(missing)}")
        return self


class StepTiming(_Strict):
    """When a step is due: at a fixed time, on a cron schedule, or on day N after the friend was added."""

    kind: Literal["at", "cron", "day_offset"] = "at"
    at: Instant | None = Field(None, description="kind=at: the date-time (with offset; naive = SOP time zone).")
    cron: Text | None = Field(None, description="kind=cron: five crontab fields, e.g. '0 10 * * 1' (Mondays 10:00).")
    day: int | None = Field(None, ge=0, le=365, description="kind=day_offset: day N after the anchor (0 = same day).")
    time: LocalTime | None = Field(None, description="kind=day_offset: local time of day, e.g. 10:00.")
    anchor: Literal["friend_added", "group_created"] = Field(
        "friend_added", description="Both count from when the friend or group first appeared on the account."
    )

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "at" and self.at is None:
            raise ValueError("timing kind 'at' needs `at`")
        if self.kind == "cron":
            if not self.cron:
                raise ValueError("timing kind 'cron' needs `cron`")
            parse_cron(self.cron)
        if self.kind == "day_offset" and (self.day is None or self.time is None):
            raise ValueError("timing kind 'day_offset' needs `day` and `time`")
        return self


class StepIn(_Strict):
    """One step of a SOP."""

    content: StepContent
    timing: StepTiming
    window_start: time | None = Field(None, description="Send window start (local); unset = any time.")
    window_end: time | None = Field(None, description="Send window end (local); unset = any time.")
    missed: Literal["late", "skip", "next_window"] = Field(
        "late",
        description="When the window passed unsent: send as soon as a window is open, skip, or wait for the next window's start.",
    )
    when_human: Literal["wait", "skip", "send"] = Field(
        "wait", description="When a person holds the conversation: wait until released, skip, or send anyway."
    )
    stop_on_reply: bool = Field(False, description="Skip this step once the customer replied after the SOP started.")
    stop_on_tags: list[Text] = Field(
        default_factory=list, description="Skip this step for contacts with any of these tags."
    )
    ai_personalize: bool = Field(
        False, description="Let the LLM rewrite the text for each target (metered as origin sop)."
    )
    ai_instruction: Text = Field("", max_length=500)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("give both window_start and window_end, or neither")
        if self.window_start is not None and self.window_start == self.window_end:
            raise ValueError("the send window is empty (start equals end)")
        return self


class StepOut(StepIn):
    """A stored step."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    position: int


class SopIn(_Strict):
    """A SOP definition as the editor sends it."""

    name: Text = Field(min_length=1, max_length=120)
    description: Text = Field("", max_length=1000)
    timezone: Text = "Asia/Shanghai"
    dynamic: bool = Field(False, description="Re-resolve targets on every tick (new friends joining a tag).")
    end_at: Instant | None = Field(None, description="Recurring or dynamic SOPs stop planning after this.")
    targets: TargetSpec = Field(default_factory=TargetSpec)
    steps: list[StepIn] = Field(min_length=1, max_length=30)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class Counts(BaseModel):
    """Deliveries by status."""

    pending: int = 0
    claimed: int = 0
    sending: int = 0
    sent: int = 0
    skipped: int = 0
    dead: int = 0
    cancelled: int = 0
    total: int = 0
    late: int = 0


class AccountProgress(Counts):
    """One account's deliveries of a SOP."""

    account_id: uuid.UUID
    nickname: str = ""


class Progress(BaseModel):
    """A SOP's progress, as `sop.progress` events and the list/detail views carry it."""

    sop_id: uuid.UUID
    status: SopStatus
    totals: Counts
    accounts: list[AccountProgress]


class SopOut(BaseModel):
    """A stored SOP with its steps and progress."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    status: SopStatus
    status_reason: str
    timezone: str
    dynamic: bool
    end_at: datetime | None
    targets: TargetSpec
    steps: list[StepOut]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress | None = None


class TargetCountAccount(BaseModel):
    """Targets of one account."""

    account_id: uuid.UUID
    nickname: str
    friends: int
    groups: int


class TargetCount(BaseModel):
    """How many contacts a target spec matches, per account."""

    total: int
    accounts: list[TargetCountAccount]


class TargetOut(BaseModel):
    """One resolved target."""

    contact_id: uuid.UUID
    account_id: uuid.UUID
    wxid: str
    nickname: str
    remark: str
    is_group: bool
    tags: list[str]
    added_at: datetime


class TargetPage(BaseModel):
    """A page of resolved targets."""

    total: int
    items: list[TargetOut]


class RenderedStep(BaseModel):
    """A step's content as one target would receive it."""

    step_id: uuid.UUID
    position: int
    kind: str
    text: str
    title: str = ""
    due_at: datetime | None = None


class TargetPreview(BaseModel):
    """Every step rendered for one target."""

    target: TargetOut
    steps: list[RenderedStep]


class AccountRisk(BaseModel):
    """What a SOP asks of one account, given its pacing."""

    account_id: uuid.UUID
    nickname: str
    status: str
    targets: int
    groups: int
    messages: int
    per_minute_cap: int
    daily_cap: int | None
    sent_today: int
    estimated_seconds: float
    days_needed: int
    warnings: list[str]


class PreviewOut(BaseModel):
    """Preview before starting: targets and estimated duration per account, warnings, and sample messages."""

    total_targets: int
    total_messages: int
    estimated_seconds: float
    accounts: list[AccountRisk]
    warnings: list[str]
    samples: list[TargetPreview]


class DeliveryOut(BaseModel):
    """One planned or made delivery of a step to a target."""

    id: int
    step_id: uuid.UUID
    step_position: int
    contact_id: uuid.UUID
    contact_name: str
    wxid: str
    account_id: uuid.UUID
    account_nickname: str
    occurrence: str
    status: DeliveryStatus
    due_at: datetime
    sent_at: datetime | None
    late: bool
    attempts: int
    error: str
    gewe_new_msg_id: str | None


class DeliveryPage(BaseModel):
    """A page of deliveries."""

    total: int
    items: list[DeliveryOut]


class Retried(BaseModel):
    """How many dead deliveries were queued again."""

    retried: int
