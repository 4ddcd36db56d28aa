"""Sending due SOP deliveries: claim (SKIP LOCKED), pace, check stop rules and the holder, send through GeWe.

A delivery moves `pending -> claimed -> sending -> sent` in three short transactions. The message row is
committed as `sending` before GeWe is called, so a worker killed mid-call leaves evidence: GeWe's echo
confirms the send (see `messages.service.confirm_unacknowledged_send`), and the leader re-queues it only
when no echo came (`planner.release_expired_claims`). That is what keeps each delivery to one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.accounts.gewe import GeweGateway
from backend.accounts.models import Account
from backend.config import SopSettings
from backend.contacts.models import Contact
from backend.conversations.policy import effective_policy
from backend.core.db import CommitFn, in_sql_text, plain_commit, utcnow
from backend.core.metrics import SOP_DELIVERIES
from backend.core.periodic import Periodic
from backend.llm.gateway import LLMGateway
from backend.llm.types import BudgetExceeded, CallContext, LLMError
from backend.messages.models import Conversation, Message
from backend.messages.service import (
    ChannelPacer,
    Outgoing,
    add_outgoing,
    finish_message,
    lock_conversation,
    policy_with_overrides,
    post_message,
    upsert_conversation,
)
from backend.realtime.service import account_room, org_room, publish
from backend.replies.checks import run_checks
from backend.sop.models import Sop, SopDelivery, SopStep
from backend.sop.planner import complete_finished, schedule_retry, settle_sent
from backend.sop.schemas import StepContent
from backend.sop.service import publish_progress, rendered_text
from backend.sop.timing import decide, window_of
from bots.gewe import GeweTooOftenError, GeweTransportError

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PROGRESS_INTERVAL = 1.0  # seconds between sop.progress events from one process while it sends


def worker_name() -> str:
    """Who claims deliveries: host, process and a random suffix (two runtimes in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def person_holds(conversation: Conversation) -> bool:
    """Whether a person holds (or is about to take) the conversation."""
    return conversation.holder == "staff" or conversation.mode in ("human", "pending_human")


def _alert(session: AsyncSession, job: _Job, *, kind: str, message: str, detail: str = "") -> None:
    """Queue a `system.alert` about a SOP send for the organisation and the account's room."""
    publish(
        session,
        organization_id=job.account.organization_id,
        type="system.alert",
        data={
            "kind": kind,
            "sop_id": str(job.sop.id),
            "account_id": str(job.account.id),
            "nickname": job.account.nickname,
            "message": message,
            "detail": detail,
        },
        rooms=[org_room(job.account.organization_id), account_room(job.account.id)],
    )


@dataclass
class _Job:
    """A claimed delivery with what sending it needs."""

    delivery_id: int
    sop: Sop
    step: SopStep
    contact: Contact
    account: Account
    content: Outgoing


class SopDispatcher:
    """Claims due deliveries and sends them, one lane (task) per account, in every worker process."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        gateway: GeweGateway,
        pacer: ChannelPacer,
        settings: SopSettings,
        commit: CommitFn = plain_commit,
        llm: LLMGateway | None = None,
        clock: Clock = utcnow,
        worker_id: str | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.gateway = gateway
        self.pacer = pacer
        self.settings = settings
        self.commit = commit
        self.llm = llm
        self.clock = clock
        self.worker_id = worker_id or worker_name()
        self.lease = timedelta(seconds=settings.claim_lease_seconds)
        self.late_after = timedelta(seconds=settings.late_after_seconds)
        self.retry_delay = timedelta(seconds=settings.retry_base_seconds)
        self._lanes: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._last_progress: dict[uuid.UUID, float] = {}
        self._resting_until: dict[uuid.UUID, float] = {}  # account -> when its pacer has a slot again (epoch s)
        self._loop = Periodic(self.tick, interval=settings.dispatch_interval, name="sop-dispatch", immediately=True)

    def start(self) -> None:
        """Look for due deliveries every `dispatch_interval` seconds."""
        self._loop.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; sends under way get `grace` seconds to finish, then are cancelled (their lease expires)."""
        await self._loop.stop()
        lanes = [lane for lane in self._lanes.values() if not lane.done()]
        if lanes:
            _, pending = await asyncio.wait(lanes, timeout=grace)
            for lane in pending:
                lane.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._lanes.clear()

    async def tick(self) -> None:
        """Start a lane for every account with due deliveries that has none running."""
        self._lanes = {account: lane for account, lane in self._lanes.items() if not lane.done()}
        now = time.time()
        for account_id in await self._due_accounts():
            if self._resting_until.get(account_id, 0.0) > now:
                continue
            if account_id not in self._lanes and len(self._lanes) < self.settings.max_lanes:
                self._lanes[account_id] = asyncio.create_task(self._lane(account_id), name=f"sop-lane:{account_id}")

    async def drain(self) -> None:
        """Send everything due now and wait for it (tests and one-shot runs)."""
        await self.tick()
        await asyncio.gather(*self._lanes.values())

    async def _due_accounts(self) -> list[uuid.UUID]:
        now = self.clock()
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(SopDelivery.account_id)
                .join(Sop, Sop.id == SopDelivery.sop_id)
                .join(Account, Account.id == SopDelivery.account_id)
                .where(
                    SopDelivery.status == in_sql_text("pending"),
                    SopDelivery.due_at <= now,
                    Sop.status == "running",
                    Account.status == "online",
                )
                .distinct()
                .limit(self.settings.max_lanes * 4)
            )
            return list(rows)

    async def _lane(self, account_id: uuid.UUID) -> None:
        touched: set[uuid.UUID] = set()
        try:
            while (job := await self._claim(account_id)) is not None:
                touched.add(job.sop.id)
                try:
                    if not await self._deliver(job):
                        break
                except Exception as exc:
                    logger.exception("SOP delivery %s failed", job.delivery_id)
                    await self._record_failure(job.delivery_id, f"内部错误：{exc}")
                if time.monotonic() - self._last_progress.get(job.sop.id, 0.0) >= PROGRESS_INTERVAL:
                    await self._publish_progress(job.sop.id)
        finally:
            with contextlib.suppress(Exception):
                async with self.sessionmaker() as session:
                    await complete_finished(session, now=self.clock(), sop_ids=touched)
                    await session.commit()
            for sop_id in touched:
                with contextlib.suppress(Exception):
                    await self._publish_progress(sop_id)

    async def _claim(self, account_id: uuid.UUID) -> _Job | None:
        now = self.clock()
        due = (
            select(SopDelivery.id)
            .join(Sop, Sop.id == SopDelivery.sop_id)
            .where(
                SopDelivery.status == in_sql_text("pending"),
                SopDelivery.account_id == account_id,
                SopDelivery.due_at <= now,
                Sop.status == "running",
            )
            .order_by(SopDelivery.due_at, SopDelivery.id)
            .limit(1)
            .with_for_update(of=SopDelivery, skip_locked=True)
        )
        async with self.sessionmaker() as session:
            delivery_id = await session.scalar(
                update(SopDelivery)
                .where(SopDelivery.id == due.scalar_subquery())
                .values(status="claimed", claimed_by=self.worker_id, claimed_until=now + self.lease, updated_at=now)
                .returning(SopDelivery.id)
            )
            await session.commit()
            if delivery_id is None:
                return None
            delivery, sop, step, contact, account = (
                await session.execute(
                    select(SopDelivery, Sop, SopStep, Contact, Account)
                    .join(Sop, Sop.id == SopDelivery.sop_id)
                    .join(SopStep, SopStep.id == SopDelivery.step_id)
                    .join(Contact, Contact.id == SopDelivery.contact_id)
                    .join(Account, Account.id == SopDelivery.account_id)
                    .where(SopDelivery.id == delivery_id)
                )
            ).one()
            content = StepContent.model_validate(step.content)
            text = rendered_text(content, contact=contact, account=account, at=now.astimezone(ZoneInfo(sop.timezone)))
            outgoing = Outgoing(
                kind=content.kind,
                text=text,
                image_url=content.image_url,
                title=content.title,
                description=content.description,
                url=content.url,
                thumb_url=content.thumb_url,
                file_url=content.file_url,
                file_name=content.file_name,
            )
            return _Job(delivery.id, sop, step, contact, account, outgoing)

    async def _deliver(self, job: _Job) -> bool:
        """Send one claimed delivery; False when the account's pacing has no slot soon (its lane should stop)."""
        if job.step.ai_personalize and job.content.kind == "text":
            try:
                job.content = await self._personalize(job)
            except BudgetExceeded as exc:
                await self._pause_for_budget(job, exc)
                return True
        if job.account.app_id and not await self._wait_for_pacer(job):
            return False
        prepared = await self._prepare(job)
        if prepared is not None:
            await self._send(job, *prepared)
        return True

    async def _personalize(self, job: _Job) -> Outgoing:
        """The LLM's rewrite of the text for this target (metered as origin `sop`), checked like AI replies.

        The template text is sent instead when the LLM fails or its rewrite breaks the reply checks.
        """
        if self.llm is None:
            return job.content
        instruction = job.step.ai_instruction or "保持原意，语气自然亲切，像真人销售发的微信，不超过原文长度的1.5倍。"
        prompt = [
            {"role": "system", "content": f"你是销售，替账号改写一条群发消息。{instruction}只输出改写后的消息。"},
            {
                "role": "user",
                "content": f"客户昵称：{job.contact.remark or job.contact.nickname}\n标签：{'、'.join(job.contact.tags)}\n"
                f"原文：{job.content.text}",
            },
        ]
        context = CallContext(organization_id=job.sop.organization_id, origin="sop", account_id=job.account.id)
        try:
            result = await self.llm.chat(prompt, purpose="sop", context=context)
        except LLMError as exc:
            logger.warning("SOP personalisation failed for delivery %s: %s; sending the template", job.delivery_id, exc)
            return job.content
        async with self.sessionmaker() as session:
            policy = await effective_policy(session, organization_id=job.sop.organization_id, account_id=job.account.id)
        text, results = run_checks(result.text, policy)
        failed = [check for check in results if not check.passed and check.name != "confident"]
        if failed:
            # The rewrite broke a rule (banned words, a deeper discount than policy allows): send the manager's text.
            logger.warning(
                "SOP personalisation of delivery %s failed checks (%s); sending the template",
                job.delivery_id,
                ", ".join(f"{check.name}: {check.detail}" for check in failed),
            )
            return job.content
        return Outgoing(text=text)

    async def _pause_for_budget(self, job: _Job, exc: BudgetExceeded) -> None:
        """A hard budget forbids the SOP's LLM calls: pause the SOP (a manager resumes it) and tell the consoles."""
        now = self.clock()
        async with self.sessionmaker() as session:
            paused = await session.scalar(
                update(Sop)
                .where(Sop.id == job.sop.id, Sop.status == "running")
                .values(status="paused", status_reason=f"预算已用尽，自动暂停：{exc}", paused_at=now, updated_at=now)
                .returning(Sop.id)
            )
            await session.execute(
                update(SopDelivery)
                .where(SopDelivery.id == job.delivery_id, SopDelivery.claimed_by == self.worker_id)
                .values(status="pending", claimed_by=None, claimed_until=None, updated_at=now)
            )
            if paused is not None:
                _alert(session, job, kind="sop_paused_by_budget", message=f"SOP「{job.sop.name}」已因预算暂停：{exc}")
            await self.commit(session)

    async def _wait_for_pacer(self, job: _Job) -> bool:
        """Reserve the account's next send slot and wait for it; hand the delivery back when that is far off."""
        account_key = str(job.account.id)
        self.pacer.set_policy(account_key, policy_with_overrides(self.pacer.default_policy, job.account.pacing))
        slot = await self.pacer.reserve_at(account_key, job.contact.wxid)
        wait = slot - time.time()
        if wait > self.settings.max_pacer_wait_seconds:
            # Daily cap, quiet hours or a "too often" pause: hand the delivery back and leave the account alone
            # until then, so its other deliveries do not each reserve (and waste) a far slot.
            self._resting_until[job.account.id] = slot
            await self._hand_back(job.delivery_id, due_at=datetime.fromtimestamp(slot, UTC))
            return False
        if wait > 0:
            await asyncio.sleep(wait)
        return True

    async def _hand_back(self, delivery_id: int, *, due_at: datetime) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(SopDelivery)
                .where(SopDelivery.id == delivery_id, SopDelivery.claimed_by == self.worker_id)
                .values(status="pending", due_at=due_at, claimed_by=None, claimed_until=None)
            )
            await session.commit()

    async def _locked_claim(self, session: AsyncSession, delivery_id: int, status: str) -> SopDelivery | None:
        """The delivery, row-locked, if it is still ours in `status` (a cancel or an expired lease takes it away)."""
        delivery = await session.scalar(
            select(SopDelivery)
            .where(SopDelivery.id == delivery_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if delivery is None or delivery.status != status or delivery.claimed_by != self.worker_id:
            return None
        return delivery

    def _settle_unsendable(
        self, delivery: SopDelivery, *, now: datetime, skip: str | None = None, wait_until: datetime | None = None
    ) -> None:
        delivery.claimed_by = delivery.claimed_until = None
        delivery.updated_at = now
        if skip is not None:
            delivery.status, delivery.error = "skipped", skip
            SOP_DELIVERIES.labels("skipped").inc()
        else:
            assert wait_until is not None
            delivery.status, delivery.due_at = "pending", wait_until

    def _human_rule(self, job: _Job, *, now: datetime) -> tuple[str | None, datetime | None]:
        """(skip reason, wait until) for a conversation a person holds, per the step's `when_human`."""
        if job.step.when_human == "skip":
            return "会话由人工接待中，已跳过", None
        return None, now + timedelta(seconds=self.settings.human_wait_seconds)

    async def _prepare(self, job: _Job) -> tuple[uuid.UUID, int] | None:
        """Transaction A: re-check the claim, the SOP, the window, stop rules and the holder; store the message as sending."""
        async with self.sessionmaker() as session:
            delivery = await self._locked_claim(session, job.delivery_id, "claimed")
            if delivery is None:
                return None
            now = self.clock()
            sop_status = await session.scalar(select(Sop.status).where(Sop.id == job.sop.id))
            if sop_status != "running":
                self._settle_unsendable(delivery, now=now, wait_until=delivery.due_at)
                await session.commit()
                return None
            window = window_of(job.step.window_start, job.step.window_end, ZoneInfo(job.sop.timezone))
            decision = decide(
                due_at=delivery.due_at, now=now, window=window, missed=job.step.missed, late_after=self.late_after
            )
            if decision.action != "send":
                skip = decision.reason if decision.action == "skip" else None
                self._settle_unsendable(delivery, now=now, skip=skip, wait_until=decision.retry_at)
                await self.commit(session)
                return None
            stop_tags = sorted(set(job.step.stop_on_tags) & set(job.contact.tags))
            if stop_tags:
                self._settle_unsendable(delivery, now=now, skip=f"客户已有标签“{'、'.join(stop_tags)}”，已跳过")
                await self.commit(session)
                return None
            conversation_id, _ = await upsert_conversation(
                session, account=job.account, chat_wxid=job.contact.wxid, is_group=job.contact.is_group
            )
            conversation = await lock_conversation(session, conversation_id)
            started = job.sop.started_at
            if (
                job.step.stop_on_reply
                and started is not None
                and conversation.last_customer_message_at is not None
                and conversation.last_customer_message_at > started
            ):
                self._settle_unsendable(delivery, now=now, skip="客户已回复，后续步骤不再发送")
                await self.commit(session)
                return None
            if person_holds(conversation) and job.step.when_human != "send":
                skip, wait_until = self._human_rule(job, now=now)
                self._settle_unsendable(delivery, now=now, skip=skip, wait_until=wait_until)
                await self.commit(session)
                return None
            message = await add_outgoing(
                session,
                account=job.account,
                conversation_id=conversation_id,
                content=job.content,
                sent_by="sop",
                extra_payload={"sop": {"sop_id": str(job.sop.id), "delivery_id": job.delivery_id}},
            )
            delivery.status, delivery.message_id = "sending", message.id
            delivery.attempt_started_at, delivery.claimed_until = now, now + self.lease
            await session.commit()
            return conversation_id, message.id

    async def _send(self, job: _Job, conversation_id: uuid.UUID, message_id: int) -> None:
        """Transaction B: under the conversation lock, call GeWe and record the outcome on message and delivery."""
        async with self.sessionmaker() as session:
            conversation = await lock_conversation(session, conversation_id)
            delivery = await self._locked_claim(session, job.delivery_id, "sending")
            message = await session.get(Message, message_id)
            if delivery is None or message is None:
                return
            now = self.clock()
            if person_holds(conversation) and job.step.when_human != "send":
                message.status, message.error = "failed", "未发送：人工已接管会话"
                skip, wait_until = self._human_rule(job, now=now)
                self._settle_unsendable(delivery, now=now, skip=skip, wait_until=wait_until)
                delivery.message_id = None
                await finish_message(session, message)
                await self.commit(session)
                return
            error = await post_message(
                session,
                account=job.account,
                message=message,
                to_wxid=job.contact.wxid,
                content=job.content,
                gateway=self.gateway,
                pacer=self.pacer,
            )
            if error is None:
                message.sent_at = self.clock()
                settle_sent(delivery, message=message, late_after=self.late_after)
                SOP_DELIVERIES.labels("sent").inc()
            elif isinstance(error, GeweTransportError) and error.maybe_delivered:
                # GeWe may have sent it: the message stays unconfirmed; its echo (or its absence) settles it.
                delivery.claimed_until = now
            elif isinstance(error, GeweTooOftenError):
                self._settle_unsendable(delivery, now=now, wait_until=now)
                delivery.message_id, delivery.error = None, message.error or ""
                _alert(
                    session,
                    job,
                    kind="too_often",
                    message=f"微信提示「{job.account.nickname or job.account.id}」操作过于频繁，该账号的发送已暂停一段时间",
                    detail=message.error or "",
                )
            else:
                schedule_retry(
                    delivery,
                    now=now,
                    error=message.error or "GeWe 拒绝了这条消息",
                    max_attempts=self.settings.max_attempts,
                    retry_delay=self.retry_delay,
                )
                SOP_DELIVERIES.labels("dead" if delivery.status == "dead" else "retry").inc()
            await finish_message(session, message)
            await self.commit(session)

    async def _record_failure(self, delivery_id: int, error: str) -> None:
        with contextlib.suppress(Exception):
            async with self.sessionmaker() as session:
                delivery = await session.get(SopDelivery, delivery_id, with_for_update=True)
                if delivery is not None and delivery.claimed_by == self.worker_id and delivery.status == "claimed":
                    schedule_retry(
                        delivery,
                        now=self.clock(),
                        error=error,
                        max_attempts=self.settings.max_attempts,
                        retry_delay=self.retry_delay,
                    )
                    await session.commit()

    async def _publish_progress(self, sop_id: uuid.UUID) -> None:
        self._last_progress[sop_id] = time.monotonic()
        async with self.sessionmaker() as session:
            sop = await session.get(Sop, sop_id)
            if sop is not None:
                await publish_progress(session, sop=sop)
                await self.commit(session)
