"""The AI reply pipeline: context, knowledge, LLM, checks, guarded send, decision record."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.accounts.gewe import GeweGateway
from backend.accounts.models import Account
from backend.agent import kb
from backend.agent.embedder import Embedder
from backend.contacts.models import Contact
from backend.conversations import service as conversations
from backend.conversations.policy import Policy, effective_policy
from backend.conversations.service import ReplyJob
from backend.core.db import CommitFn
from backend.core.metrics import REPLIES
from backend.llm.gateway import LLMGateway
from backend.llm.types import BudgetCheck, BudgetExceeded, CallContext, ChatResult, LLMError
from backend.llm.types import Message as ChatMessage
from backend.messages import service as messages
from backend.messages.models import Conversation, Message
from backend.messages.service import ChannelPacer, Outgoing, SendDropped, SendGuard
from backend.replies.checks import UNSURE_MARKER, run_checks
from backend.replies.models import ReplyDecision

logger = logging.getLogger(__name__)

DEFAULT_PERSONA = "你是这家店的微信销售顾问，语气亲切、专业、简洁，像真人一样用中文聊天。"
RULES = (
    "只根据参考资料和对话回答；资料里没有的信息不要编造，回复中包含 [[HANDOFF]] 表示需要人工。"
    "不承诺资料以外的折扣、赠品或退款。每次回复不超过三句话，不用 Markdown。"
)


@dataclass
class ReplyDeps:
    """What the pipeline talks to; one per process that consumes the inbox."""

    sessionmaker: async_sessionmaker[AsyncSession]
    commit: CommitFn
    llm: LLMGateway
    gewe: GeweGateway
    pacer: ChannelPacer
    kb_engine: AsyncEngine
    embedder: Callable[[], Embedder]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclass
class Context:
    """Everything read before the LLM call (under no lock)."""

    account: Account
    conversation: Conversation
    policy: Policy
    history: list[Message]
    customer_tags: list[str]
    customer_name: str
    hits: list[kb.Hit] = field(default_factory=list)


@dataclass
class Draft:
    """The decision being built."""

    outcome: str = "skipped"
    reason: str = ""
    text: str = ""
    result: ChatResult | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    reply_message_id: int | None = None
    placeholder_message_id: int | None = None


async def _load(session: AsyncSession, job: ReplyJob) -> Context | None:
    found = (
        await session.execute(
            select(Conversation, Account, Contact)
            .join(Account, Account.id == Conversation.account_id)
            .outerjoin(
                Contact, and_(Contact.account_id == Conversation.account_id, Contact.wxid == Conversation.chat_wxid)
            )
            .where(Conversation.id == job.conversation_id)
        )
    ).first()
    if found is None:
        return None
    conversation, account, contact = found
    policy = await effective_policy(session, organization_id=account.organization_id, account_id=account.id)
    history = list(
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.id <= job.trigger_message_id)
            .order_by(Message.id.desc())
            .limit(policy.history_limit)
        )
    )
    history.reverse()
    return Context(
        account=account,
        conversation=conversation,
        policy=policy,
        history=history,
        customer_tags=list(contact.tags) if contact else [],
        customer_name=(contact.remark or contact.nickname) if contact else "",
    )


async def _knowledge(deps: ReplyDeps, context: Context) -> list[kb.Hit]:
    """The knowledge-base hits for the customer's latest words (none when the policy turns retrieval off)."""
    question = _question(context)
    if not context.policy.kb_top_k or not question:
        return []
    return await kb.retrieve(
        deps.kb_engine,
        deps.embedder(),
        question,
        k=context.policy.kb_top_k,
        tags=context.policy.kb_tags or None,
        organization_id=context.account.organization_id,
    )


def _question(context: Context) -> str:
    """The customer's latest words (the trailing run of inbound messages)."""
    tail: list[str] = []
    for message in reversed(context.history):
        if message.direction != "in":
            break
        if message.text:
            tail.append(message.text)
    return "\n".join(reversed(tail))


def build_prompt(context: Context) -> list[ChatMessage]:
    """Persona, rules, customer profile and knowledge, then the bounded history as chat turns."""
    persona = context.account.persona.strip() or DEFAULT_PERSONA
    profile = f"客户：{context.customer_name or '未备注'}；标签：{'、'.join(context.customer_tags) or '无'}。"
    system = f"{persona}\n{RULES}\n{profile}"
    if context.hits:
        system += "\n参考资料（知识库）：\n" + "\n".join(f"- {' '.join(hit.content.split())}" for hit in context.hits)
    prompt: list[ChatMessage] = [{"role": "system", "content": system}]
    for message in context.history:
        if not message.text:
            continue
        role = "user" if message.direction == "in" else "assistant"
        prompt.append({"role": role, "content": message.text})
    return prompt


async def _send(deps: ReplyDeps, context: Context, text: str, *, lease_version: int, holder: str) -> Message:
    """Send as the AI if the lease is unchanged (raises SendDropped otherwise); commits at once."""
    async with deps.sessionmaker() as session:
        try:
            message = await messages.send(
                session,
                account=await session.merge(context.account, load=False),
                to_wxid=context.conversation.chat_wxid,
                content=Outgoing(text=text),
                sent_by="ai",
                gateway=deps.gewe,
                pacer=deps.pacer,
                guard=SendGuard(lease_version=lease_version, holder=holder),
                conversation_id=context.conversation.id,
            )
        except SendDropped:
            await session.rollback()
            raise
        await deps.commit(session)
        return message


def _call_context(context: Context) -> CallContext:
    return CallContext(
        organization_id=context.account.organization_id,
        origin="ai_reply",
        account_id=context.account.id,
        conversation_id=context.conversation.id,
    )


async def _ask(deps: ReplyDeps, context: Context, budget: Awaitable[BudgetCheck]) -> ChatResult:
    """The LLM's answer; its ledger write goes on while the answer is checked and sent."""
    return await deps.llm.chat(
        build_prompt(context),
        purpose="reply",
        context=_call_context(context),
        budget=await budget,
        book_in_background=True,
    )


async def _generate(
    deps: ReplyDeps, context: Context, job: ReplyJob, draft: Draft, budget: Awaitable[BudgetCheck]
) -> None:
    """Ask the LLM (with the slow-answer placeholder) and check the answer; fills `draft`."""
    call = _ask(deps, context, budget)
    task = asyncio.ensure_future(asyncio.wait_for(call, context.policy.llm_timeout_seconds))
    policy = context.policy
    if policy.placeholder_enabled:
        done, _ = await asyncio.wait({task}, timeout=policy.placeholder_after_seconds)
        if not done:
            try:
                placeholder = await _send(
                    deps, context, policy.placeholder_text, lease_version=job.lease_version, holder="ai"
                )
                draft.placeholder_message_id = placeholder.id
            except SendDropped:
                task.cancel()
                raise
    try:
        result = await task
    except BudgetExceeded as exc:
        draft.outcome, draft.reason = "handoff", f"AI 预算已用完：{exc}"
        return
    except (LLMError, TimeoutError) as exc:
        draft.outcome, draft.reason = "handoff", f"AI 暂时无法回答：{exc or 'timeout'}"
        return
    draft.result = result
    text, results = run_checks(result.text, policy)
    draft.text, draft.checks = text, [r.as_dict() for r in results]
    failed = [r for r in results if not r.passed]
    blocking = [r for r in failed if r.name != "confident"]
    if blocking:
        draft.outcome = "blocked"
        draft.reason = "AI 回复未通过检查：" + "；".join(f"{r.name} {r.detail}".strip() for r in blocking)
    elif failed and policy.handoff_on_low_confidence:
        draft.outcome, draft.reason = "handoff", "AI 没有把握，转人工"
    else:
        draft.outcome = "sent"


async def run(deps: ReplyDeps, job: ReplyJob) -> ReplyDecision | None:
    """Answer (or acknowledge a handoff for) one customer message; returns the stored decision, None if moot."""
    started = time.perf_counter()
    async with deps.sessionmaker() as session:
        context = await _load(session, job)
    if context is None:
        return None
    budget: asyncio.Task[BudgetCheck] | None = None
    if job.kind == "answer":
        if context.conversation.lease_version != job.lease_version or context.conversation.holder != "ai":
            return None
        # The budget check and the knowledge lookup go to the database side by side.
        budget = asyncio.create_task(deps.llm.check_budgets(_call_context(context)))
        try:
            context.hits = await _knowledge(deps, context)
        except BaseException:
            budget.cancel()
            raise
    draft = Draft()
    # An answer is sent only while the AI holds the lease; a handoff acknowledgement under the handoff's own lease.
    holder = context.conversation.holder if job.kind == "ack" else "ai"
    try:
        if job.kind == "ack":
            draft.outcome, draft.reason = "handoff", context.conversation.mode_reason
            draft.text = context.policy.handoff_ack_text
        else:
            assert budget is not None
            await _generate(deps, context, job, draft, budget)
        if draft.text and draft.outcome in ("sent", "handoff"):
            delay = min(len(draft.text) * context.policy.typing_seconds_per_char, context.policy.max_typing_seconds)
            if delay:
                await deps.sleep(delay)
            sent = await _send(deps, context, draft.text, lease_version=job.lease_version, holder=holder)
            draft.reply_message_id = sent.id
            if sent.status == "failed":
                draft.outcome, draft.reason = "failed", f"发送失败：{sent.error}"
    except SendDropped as exc:
        draft.outcome, draft.reason = "dropped", f"生成期间会话已被接管，回复作废：{exc.reason}"
    latency_ms = int((time.perf_counter() - started) * 1000)
    if draft.result is not None:
        await draft.result.booked_cost()
    async with deps.sessionmaker() as session:
        if job.kind == "answer" and draft.outcome in ("handoff", "blocked", "failed"):
            await conversations.hand_to_people(
                session, conversation_id=job.conversation_id, lease_version=job.lease_version, reason=draft.reason
            )
        decision = _record(context, job, draft, latency_ms)
        session.add(decision)
        await deps.commit(session)
    REPLIES.labels(draft.outcome).inc()
    return decision


def _record(context: Context, job: ReplyJob, draft: Draft, latency_ms: int) -> ReplyDecision:
    result = draft.result
    return ReplyDecision(
        organization_id=context.account.organization_id,
        account_id=context.account.id,
        conversation_id=context.conversation.id,
        trigger_message_id=job.trigger_message_id,
        reply_message_id=draft.reply_message_id,
        outcome=draft.outcome,
        reason=draft.reason,
        draft=draft.text or (result.text if result else ""),
        model=result.model if result else "",
        provider=result.provider if result else "",
        input_tokens=result.usage.input_tokens if result else 0,
        output_tokens=result.usage.output_tokens if result else 0,
        cost=result.cost if result else Decimal(0),
        latency_ms=latency_ms,
        kb_hits=[
            {"ref": h.ref, "title": h.title, "content": h.content[:300], "score": round(h.score, 4)}
            for h in context.hits
        ],
        checks=draft.checks,
        inputs={
            "kind": job.kind,
            "history_messages": len(context.history),
            "persona": (context.account.persona or DEFAULT_PERSONA)[:200],
            "customer_tags": context.customer_tags,
            "lease_version": job.lease_version,
            "llm_latency_ms": result.latency_ms if result else None,
            "placeholder_message_id": draft.placeholder_message_id,
            "unsure_marker": UNSURE_MARKER in (result.text if result else ""),
        },
    )
