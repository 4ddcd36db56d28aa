"""The LLM gateway: model choice, budgets, retries with back-off, provider fallback, structured output, metering."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.db import Database
from backend.core.metrics import LLM_CALLS, LLM_COST
from backend.cost import budgets, metering, webhooks
from backend.cost.periods import local_day
from backend.llm.presets import CHEAP_PURPOSES
from backend.llm.providers import (
    Provider,
    ProviderConfig,
    ProviderFailure,
    ProviderReply,
    ProviderRequest,
    make_provider,
)
from backend.llm.structured import OutputSpec
from backend.llm.types import (
    BudgetCheck,
    BudgetExceeded,
    CallContext,
    ChatResult,
    LLMUnavailable,
    Message,
    StructuredOutputError,
    Usage,
)
from backend.realtime.server import Broadcaster
from backend.realtime.service import publish

logger = logging.getLogger(__name__)

# SQLSTATE lock_not_available, raised when lock_timeout expires.
LOCK_NOT_AVAILABLE = "55P03"
# Which hard budget action refuses which call origin.
REFUSALS = {"stop_ai": frozenset({"ai_reply"}), "pause_sop": frozenset({"sop"})}


@dataclass(frozen=True)
class GatewayConfig:
    """Provider chain (primary first, then fallbacks in order) and call policy."""

    providers: tuple[ProviderConfig, ...]
    purpose_models: Mapping[str, str] = field(default_factory=dict)
    max_retries: int = 2
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 8.0
    update_interval_seconds: float = 2.0
    event_lock_timeout_seconds: float = 2.0
    webhook_attempts: int = 3
    webhook_allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE: budget webhooks may reach internal addresses


@dataclass
class _Delta:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass
class _Call:
    """A logical call in progress: its id and how many attempts it has made."""

    call_id: uuid.UUID
    context: CallContext
    purpose: str
    budgeted: bool = True  # whether any budget applied when the call began
    attempts: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class _Answer:
    reply: ProviderReply
    provider: ProviderConfig
    request_id: str
    latency_ms: int
    cost: Decimal
    booking: asyncio.Task[Decimal] | None = None


class LLMGateway:
    """Every LLM call of the platform goes through `chat`; each attempt is metered in its own transaction."""

    def __init__(self, config: GatewayConfig, *, database: Database, broadcaster: Broadcaster | None = None) -> None:
        if not config.providers:
            raise ValueError("the gateway needs at least one provider")
        self.config = config
        self.database = database
        self.broadcaster = broadcaster
        self.providers: list[Provider] = [make_provider(provider) for provider in config.providers]
        self._tasks: set[asyncio.Task[Any]] = set()
        self._deltas: dict[uuid.UUID, _Delta] = {}
        self._last_update: dict[uuid.UUID, float] = {}

    @property
    def primary(self) -> ProviderConfig:
        """The first provider of the chain."""
        return self.config.providers[0]

    async def chat(
        self,
        messages: list[Message],
        *,
        purpose: str,
        context: CallContext,
        model: str | None = None,
        response_model: type[BaseModel] | None = None,
        json_schema: dict[str, Any] | None = None,
        temperature: float | None = None,
        chat_id: str | None = None,
        variables: dict[str, str] | None = None,
        budget: BudgetCheck | None = None,
        book_in_background: bool = False,
    ) -> ChatResult:
        """Answer a chat; raises BudgetExceeded, LLMUnavailable or StructuredOutputError.

        `budget` is a `check_budgets` the caller ran just before (side by side with its own reads); without it the
        budgets are checked here. With `book_in_background` (plain text calls) the answer returns as soon as the
        provider gave it and its ledger write goes on beside the caller's next step: `result.booked_cost()` waits
        for it.
        """
        output = OutputSpec.build(response_model, json_schema)
        if book_in_background and output is not None:
            raise ValueError("book_in_background is for plain text calls (a structured answer may need a repair)")
        check = budget or await self.check_budgets(context)
        downgrade = check.downgrade
        call = _Call(uuid.uuid4(), context, purpose, budgeted=check.budgeted)
        request = ProviderRequest(messages, "", output, temperature, chat_id, variables)
        answer = await self._complete(call, request, model=model, downgrade=downgrade, book_later=book_in_background)
        answers = [answer]
        parsed: Any = None
        if output is not None:
            try:
                parsed = output.parse(answer.reply.text)
            except ValueError as first_error:
                repair = ProviderRequest(
                    output.repair_messages(messages, answer.reply.text, str(first_error)),
                    "",
                    output,
                    temperature,
                    chat_id,
                    variables,
                )
                answer = await self._complete(call, repair, model=model, downgrade=downgrade)
                answers.append(answer)
                try:
                    parsed = output.parse(answer.reply.text)
                except ValueError as second_error:
                    raise StructuredOutputError(
                        f"the model's answer does not match {output.name} after one repair: {second_error}",
                        text=answer.reply.text,
                    ) from second_error
        return ChatResult(
            text=answer.reply.text,
            parsed=parsed,
            usage=sum((a.reply.usage for a in answers), Usage()),
            provider=answer.provider.name,
            model=answer.reply.model,
            latency_ms=sum(a.latency_ms for a in answers),
            request_id=answer.request_id,
            offline=answer.provider.kind == "offline",
            call_id=call.call_id,
            cost=sum((a.cost for a in answers), Decimal(0)),
            attempts=call.attempts,
            downgraded=downgrade is not None,
            booking=answer.booking,
        )

    def model_for(self, index: int, *, purpose: str, model: str | None, downgrade: str | None) -> str:
        """Model asked of the index-th provider: downgrade > explicit > per-purpose setting > cheap/strong default."""
        provider = self.config.providers[index]
        if downgrade is not None:
            return downgrade if index == 0 else provider.cheap_model or provider.model
        if index == 0:
            if model:
                return model
            if purpose in self.config.purpose_models:
                return self.config.purpose_models[purpose]
        if purpose in CHEAP_PURPOSES and provider.cheap_model:
            return provider.cheap_model
        return provider.model

    async def check_budgets(self, context: CallContext) -> BudgetCheck:
        """Refuse a call about to start (BudgetExceeded) or pick its downgrade model by the budgets already exceeded."""
        async with self.database.sessionmaker() as session:
            statuses = await budgets.applicable_statuses(
                session, organization_id=context.organization_id, user_id=context.user_id, account_id=context.account_id
            )
        downgrade: str | None = None
        for status in statuses:
            if not status.exceeded:
                continue
            action = status.budget.hard_action
            if context.origin in REFUSALS.get(action, ()):
                raise BudgetExceeded(
                    f"budget {status.budget.name!r} is used up for this {status.budget.period} window ({action})",
                    action=action,
                    budget_id=status.budget.id,
                )
            if action == "downgrade_model" and downgrade is None:
                downgrade = status.budget.downgrade_model or self.primary.cheap_model or self.primary.model
        return BudgetCheck(downgrade=downgrade, budgeted=bool(statuses))

    async def _complete(
        self,
        call: _Call,
        request: ProviderRequest,
        *,
        model: str | None,
        downgrade: str | None,
        book_later: bool = False,
    ) -> _Answer:
        """Try each provider in turn, retrying transient failures with exponential back-off and full jitter.

        Failed attempts are booked before the next one; with `book_later` the answer's own booking is left running.
        """
        for index, provider in enumerate(self.providers):
            config = provider.config
            chosen = self.model_for(index, purpose=call.purpose, model=model, downgrade=downgrade)
            asked = ProviderRequest(
                request.messages, chosen, request.output, request.temperature, request.chat_id, request.variables
            )
            for retry in range(self.config.max_retries + 1):
                call.attempts += 1
                request_id = f"{call.call_id.hex}-{call.attempts}"
                started = time.monotonic()
                try:
                    # The SDK timeout bounds each read; this bounds the whole attempt.
                    async with asyncio.timeout(config.timeout_seconds + 1):
                        reply = await provider.complete(asked)
                except (ProviderFailure, TimeoutError) as exc:
                    failure = (
                        exc
                        if isinstance(exc, ProviderFailure)
                        else ProviderFailure(
                            f"timed out after {config.timeout_seconds}s", status="timeout", transient=True
                        )
                    )
                    latency = int((time.monotonic() - started) * 1000)
                    await self._meter(
                        call, config, chosen, request_id, failure.status, failure.usage, latency, str(failure)
                    )
                    call.failures.append((config.name, failure.status, str(failure)))
                    logger.warning(
                        "llm attempt failed",
                        extra={
                            "provider": config.name,
                            "model": chosen,
                            "status": failure.status,
                            "error": str(failure),
                        },
                    )
                    if not failure.transient:
                        break
                    if retry < self.config.max_retries:
                        ceiling = min(self.config.backoff_max_seconds, self.config.backoff_base_seconds * 2**retry)
                        await asyncio.sleep(random.uniform(0, ceiling))
                    continue
                latency = int((time.monotonic() - started) * 1000)
                status = "ok" if index == 0 else "fallback"
                booking = self._meter(
                    call, config, reply.model or chosen, request_id, status, reply.usage, latency, None, reply
                )
                if book_later:
                    task = self._spawn(booking)
                    task.add_done_callback(_log_failed_booking)
                    return _Answer(reply, config, request_id, latency, Decimal(0), task)
                return _Answer(reply, config, request_id, latency, await booking)
        summary = "; ".join(f"{name}: {status} ({error})" for name, status, error in call.failures[-3:])
        raise LLMUnavailable(f"every LLM provider failed: {summary}", attempts=call.failures)

    async def _meter(
        self,
        call: _Call,
        provider: ProviderConfig,
        model: str,
        request_id: str,
        status: str,
        usage: Usage,
        latency_ms: int,
        error: str | None,
        reply: ProviderReply | None = None,
    ) -> Decimal:
        """Commit the attempt's ledger row, then raise budget alerts and publish cost.updated in a second transaction."""
        context = call.context
        attempt = metering.Attempt(
            request_id=request_id,
            call_id=call.call_id,
            attempt=call.attempts,
            organization_id=context.organization_id,
            user_id=context.user_id,
            account_id=context.account_id,
            conversation_id=context.conversation_id,
            origin=context.origin,
            purpose=call.purpose,
            provider=provider.name,
            model=model,
            status=status,
            input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            output_tokens=usage.output_tokens,
            latency_ms=latency_ms,
            error=error,
            offline=provider.kind == "offline",
            parts=[
                metering.BilledPart(name, part.input_tokens, part.cached_input_tokens, part.output_tokens)
                for name, part in (reply.breakdown if reply else [])
            ],
        )
        async with self.database.sessionmaker() as session:
            entry = await metering.record_attempt(session, attempt)
            await session.commit()
        self._add_delta(entry.organization_id, entry.cost, usage)
        LLM_CALLS.labels(context.origin, provider.name, status).observe(latency_ms / 1000)
        LLM_COST.labels(context.origin).inc(float(entry.cost))
        raised: list[tuple[Any, dict[str, Any]]] = []
        # No budget applied when the call began (one created since counts from the next call) and no cost.updated
        # due: nothing to check or publish, so no second transaction on the way to the answer.
        check_budgets = call.budgeted and bool(entry.cost or entry.input_tokens or entry.output_tokens)
        if not check_budgets and not self._update_due(entry.organization_id):
            return entry.cost
        async with self.database.sessionmaker() as session:
            try:
                # Events are numbered under the organisation row's lock at commit. A caller may hold that lock
                # in an open transaction while it awaits this call: give up on the events rather than deadlock.
                # Alerts and their rows roll back together, so the next call raises them again.
                timeout_ms = int(self.config.event_lock_timeout_seconds * 1000)
                await session.execute(text(f"SET LOCAL lock_timeout = {timeout_ms}"))
                if check_budgets:
                    statuses = await budgets.applicable_statuses(
                        session,
                        organization_id=context.organization_id,
                        user_id=context.user_id,
                        account_id=context.account_id,
                        day=local_day(entry.created_at),
                    )
                    raised = await budgets.raise_alerts(session, statuses)
                updated = self._publish_update(session, entry.organization_id, local_day(entry.created_at).isoformat())
                await self._commit(session)
            except DBAPIError as exc:
                if getattr(exc.orig, "pgcode", None) != LOCK_NOT_AVAILABLE:
                    raise
                await session.rollback()
                raised, updated = [], None
                logger.warning("cost events postponed: organisation row is locked", extra={"request_id": request_id})
        if updated is not None:
            # Only once published: a postponed update keeps the totals for the next one.
            self._last_update[entry.organization_id] = updated
            del self._deltas[entry.organization_id]
        for budget, payload in raised:
            if budget.webhook_url:
                self._spawn(
                    webhooks.deliver(
                        budget.webhook_url,
                        payload,
                        attempts=self.config.webhook_attempts,
                        allow_private=self.config.webhook_allow_private,
                    )
                )
        return entry.cost

    def _add_delta(self, organization_id: uuid.UUID, cost: Decimal, usage: Usage) -> None:
        delta = self._deltas.setdefault(organization_id, _Delta())
        delta.calls += 1
        delta.input_tokens += usage.input_tokens
        delta.output_tokens += usage.output_tokens
        delta.cost += cost

    def _update_due(self, organization_id: uuid.UUID) -> bool:
        """Whether the organisation's last cost.updated is older than the update interval."""
        last = self._last_update.get(organization_id, -1e9)
        return time.monotonic() - last >= self.config.update_interval_seconds

    def _publish_update(self, session: AsyncSession, organization_id: uuid.UUID, day: str) -> float | None:
        """Publish `cost.updated` with the totals since the last one, at most once per update interval per org.

        Returns the time to record as the last update once the transaction commits, None when nothing was published.
        """
        delta = self._deltas.get(organization_id)
        if delta is None or not self._update_due(organization_id):
            return None
        publish(
            session,
            organization_id=organization_id,
            type="cost.updated",
            data={
                "day": day,
                "calls": delta.calls,
                "input_tokens": delta.input_tokens,
                "output_tokens": delta.output_tokens,
                "cost": str(delta.cost),
                "currency": "CNY",
            },
        )
        return time.monotonic()

    async def _commit(self, session: AsyncSession) -> None:
        if self.broadcaster is not None:
            await self.broadcaster.commit(session)
        else:
            await session.commit()

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_idle(self) -> None:
        """Wait for background bookings and webhook deliveries to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Finish background work and close provider connections."""
        await self.wait_idle()
        for provider in self.providers:
            await provider.aclose()


def _log_failed_booking(task: asyncio.Task[Decimal]) -> None:
    """A ledger write left running must not fail unseen, whether or not its caller waits for it."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("an answered LLM call could not be booked", exc_info=error)
