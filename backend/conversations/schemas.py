"""Conversation bodies of the workbench API and events."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from backend.core.inputs import Text, no_nul_anywhere
from backend.messages.schemas import MessageOut

Filter = Literal["all", "mine", "waiting", "ai", "human", "closed"]


class ContactBrief(BaseModel):
    """The customer (or group) behind a conversation."""

    model_config = ConfigDict(from_attributes=True)

    wxid: str
    nickname: str
    remark: str
    tags: list[str]


class ConversationOut(BaseModel):
    """A conversation as the workbench lists it."""

    id: uuid.UUID
    account_id: uuid.UUID
    account_nickname: str
    chat_wxid: str
    is_group: bool
    title: str
    contact: ContactBrief | None
    mode: str
    holder: str
    holder_user_id: uuid.UUID | None
    holder_name: str | None
    lease_version: int
    mode_reason: str
    mode_changed_at: datetime | None
    handoff_summary: str
    handoff_deadline: datetime | None
    unread_count: int
    last_message_at: datetime | None
    last_message_preview: str


class NoteOut(BaseModel):
    """A staff note."""

    id: uuid.UUID
    author_name: str
    text: str
    created_at: datetime


class ConversationDetail(ConversationOut):
    """A conversation with its notes."""

    notes: list[NoteOut]


class ConversationPage(BaseModel):
    """A page of the conversation list."""

    items: list[ConversationOut]


class MessageWithDecision(MessageOut):
    """A message and, for AI messages, the id of the decision record behind it."""

    decision_id: int | None = None


class MessagePage(BaseModel):
    """Messages oldest first; `has_more` when older ones exist."""

    items: list[MessageWithDecision]
    has_more: bool


class ReasonIn(BaseModel):
    """An optional reason recorded with a mode change."""

    reason: Text = Field(default="", max_length=500)


class TransferIn(ReasonIn):
    """Hand the conversation to another staff member."""

    user_id: uuid.UUID


class OutgoingIn(BaseModel):
    """What a person sends: text, an image URL or a link card."""

    kind: Literal["text", "image", "link"] = "text"
    text: Text = Field(default="", max_length=4000)
    image_url: HttpUrl | None = None
    title: Text = Field(default="", max_length=200)
    description: Text = Field(default="", max_length=500)
    url: HttpUrl | None = None
    thumb_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _complete(self) -> OutgoingIn:
        if self.kind == "text" and not self.text.strip():
            raise ValueError("text must not be empty")
        if self.kind == "image" and self.image_url is None:
            raise ValueError("an image needs image_url")
        if self.kind == "link" and (self.url is None or not self.title.strip()):
            raise ValueError("a link needs url and title")
        return self


class NoteIn(BaseModel):
    """A note to add."""

    text: Text = Field(min_length=1, max_length=4000)


class TagsIn(BaseModel):
    """The customer's full tag list."""

    tags: list[Text] = Field(max_length=50)

    @model_validator(mode="after")
    def _clean(self) -> TagsIn:
        cleaned = []
        for tag in self.tags:
            tag = tag.strip()
            if not tag or len(tag) > 32:
                raise ValueError("tags are 1-32 characters")
            if tag not in cleaned:
                cleaned.append(tag)
        self.tags = cleaned
        return self


class StaffOut(BaseModel):
    """Someone a conversation can be transferred to."""

    id: uuid.UUID
    display_name: str
    role: str


class DecisionOut(BaseModel):
    """The AI's "why" for one reply."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: uuid.UUID
    trigger_message_id: int | None
    reply_message_id: int | None
    outcome: str
    reason: str
    draft: str
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    cost: Decimal
    latency_ms: int
    kb_hits: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    inputs: dict[str, Any]
    created_at: datetime


class PolicyIn(BaseModel):
    """Settings to store for the organisation or one account (validated against the policy model)."""

    settings: Annotated[dict[str, Any], AfterValidator(no_nul_anywhere)]


class SearchHit(MessageOut):
    """A message found by search, with its conversation's title."""

    conversation_title: str


class SearchPage(BaseModel):
    """Search results, newest first."""

    items: list[SearchHit]
