"""Gateway vocabulary: call context, usage, results and the errors callers can catch."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from backend.core.errors import AppError

Origin = Literal["ai_reply", "agent", "sop", "summary"]
Message = dict[str, str]
AttemptStatus = Literal["ok", "error", "timeout", "fallback"]


@dataclass(frozen=True)
class CallContext:
    """Who a call is made for; every field lands on the ledger row."""

    organization_id: uuid.UUID
    origin: Origin = "ai_reply"
    user_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Usage:
    """Tokens of one call; cached_input_tokens is the part of input_tokens served from the provider's cache."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
        )


@dataclass(frozen=True)
class BudgetCheck:
    """What the budgets say about a call about to start (`LLMGateway.check_budgets`)."""

    downgrade: str | None = None  # the model to ask instead, when an exceeded budget downgrades
    budgeted: bool = False  # whether any budget applies to the call


@dataclass
class ChatResult:
    """The answer of a logical call (after retries, fallback and structured-output repair)."""

    text: str
    parsed: Any
    usage: Usage
    provider: str
    model: str
    latency_ms: int
    request_id: str
    offline: bool
    call_id: uuid.UUID
    cost: Decimal = Decimal(0)
    attempts: int = 1
    downgraded: bool = False
    # Set by `chat(book_in_background=True)`: the ledger write still running; its result is the cost.
    booking: asyncio.Task[Decimal] | None = field(default=None, repr=False, compare=False)

    async def booked_cost(self) -> Decimal:
        """The call's cost once it is in the ledger (waits for a booking left running in the background)."""
        if self.booking is not None:
            self.cost = await self.booking
            self.booking = None
        return self.cost


class LLMError(AppError):
    """The gateway could not produce an answer."""

    status_code = 502
    code = "llm_error"


class LLMUnavailable(LLMError):
    """Every configured provider failed; `attempts` holds (provider, status, error) of each try."""

    code = "llm_unavailable"

    def __init__(self, message: str, *, attempts: list[tuple[str, str, str]]) -> None:
        super().__init__(message)
        self.attempts = attempts


class StructuredOutputError(LLMError):
    """The model's answer did not match the requested schema, even after one repair attempt."""

    code = "llm_bad_structured_output"

    def __init__(self, message: str, *, text: str) -> None:
        super().__init__(message)
        self.text = text


class BudgetExceeded(AppError):
    """A hard budget limit forbids this call; `action` says what the caller should do (stop_ai, pause_sop)."""

    status_code = 402
    code = "budget_exceeded"

    def __init__(self, message: str, *, action: str, budget_id: uuid.UUID) -> None:
        super().__init__(message)
        self.action = action
        self.budget_id = budget_id
