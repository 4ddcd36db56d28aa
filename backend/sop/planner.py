"""Planning: resolving targets and creating one delivery row per (sop, step, target, occurrence); reclaiming stale work."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.contacts.models import Contact
from backend.core.db import in_sql_text
from backend.messages.models import Message
from backend.sop.models import Sop, SopDelivery, SopStep, SopTarget
from backend.sop.schemas import StepTiming, TargetSpec
from backend.sop.targets import target_filter
from backend.sop.timing import ONCE, aware, cron_occurrences, day_offset_due, parse_cron, window_of

INSERT_CHUNK = 5000
OPEN_STATUSES = ("pending", "claimed", "sending")


@dataclass(frozen=True, slots=True)
class PlanResult:
    """What one planning pass added."""

    new_targets: int
    deliveries: int


def occurrence_key(fire: datetime) -> str:
    """The occurrence of a recurring step: its fire time in UTC, to the minute."""
    return fire.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


async def resolve_targets(session: AsyncSession, *, sop: Sop) -> int:
    """Add the contacts the SOP's spec matches now to its targets; returns how many were new."""
    spec = TargetSpec.model_validate(sop.targets)
    matching = select(Contact.id, Contact.account_id, literal(sop.id, SopTarget.sop_id.type)).where(
        target_filter(sop.organization_id, spec)
    )
    result = await session.execute(
        insert(SopTarget)
        .from_select(["contact_id", "account_id", "sop_id"], matching)
        .on_conflict_do_nothing()
        .returning(SopTarget.contact_id)
    )
    return len(result.all())


async def _targets_without(session: AsyncSession, *, sop: Sop, step: SopStep, occurrence: str | None) -> Sequence[Any]:
    """(contact_id, account_id, added_at) of targets with no delivery of this step (and occurrence) yet."""
    planned = [
        SopDelivery.sop_id == sop.id,
        SopDelivery.step_id == step.id,
        SopDelivery.contact_id == SopTarget.contact_id,
    ]
    if occurrence is not None:
        planned.append(SopDelivery.occurrence == occurrence)
    rows = await session.execute(
        select(SopTarget.contact_id, SopTarget.account_id, Contact.added_at)
        .join(Contact, Contact.id == SopTarget.contact_id)
        .where(SopTarget.sop_id == sop.id, ~exists().where(and_(*planned)))
    )
    return rows.all()


def _row(sop: Sop, step: SopStep, target: Any, occurrence: str, due: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "organization_id": sop.organization_id,
        "sop_id": sop.id,
        "step_id": step.id,
        "contact_id": target.contact_id,
        "account_id": target.account_id,
        "occurrence": occurrence,
        "planned_for": due,
        "due_at": due,
        **extra,
    }


def _single_rows(
    sop: Sop, step: SopStep, timing: StepTiming, targets: Iterable[Any], *, tz: tzinfo, started: datetime
) -> list[dict[str, Any]]:
    window = window_of(step.window_start, step.window_end, tz)
    rows = []
    for target in targets:
        if timing.kind == "at":
            assert timing.at is not None
            due = aware(timing.at, tz)
        else:
            assert timing.day is not None and timing.time is not None
            due = day_offset_due(target.added_at, day=timing.day, at=timing.time, tz=tz)
            if due.astimezone(tz).date() < started.astimezone(tz).date():
                # Day N was over before the SOP started (an old friend): shown as skipped, never sent. Earlier
                # the same day still counts: it goes out now if the window allows.
                rows.append(
                    _row(sop, step, target, ONCE, due, status="skipped", error="SOP 启动前该天数已过，不再补发")
                )
                continue
        rows.append(_row(sop, step, target, ONCE, window.earliest(due) if window else due))
    return rows


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    statement = insert(SopDelivery).on_conflict_do_nothing(constraint="uq_sop_deliveries_once")
    for start in range(0, len(rows), INSERT_CHUNK):
        await session.execute(statement, rows[start : start + INSERT_CHUNK])
    return len(rows)


async def plan(session: AsyncSession, *, sop: Sop, now: datetime, horizon: timedelta) -> PlanResult:
    """Resolve targets (first pass, or every pass for dynamic SOPs) and plan every step's deliveries up to the horizon."""
    first_pass = sop.planned_until is None
    new_targets = await resolve_targets(session, sop=sop) if first_pass or sop.dynamic else 0
    tz = ZoneInfo(sop.timezone)
    started = sop.started_at or now
    steps = (await session.scalars(select(SopStep).where(SopStep.sop_id == sop.id).order_by(SopStep.position))).all()
    until = now + horizon if sop.end_at is None else min(now + horizon, sop.end_at)
    planned = 0
    for step in steps:
        timing = StepTiming.model_validate(step.timing)
        if timing.kind != "cron":
            if first_pass or new_targets:
                targets = await _targets_without(session, sop=sop, step=step, occurrence=None)
                planned += await _insert(session, _single_rows(sop, step, timing, targets, tz=tz, started=started))
            continue
        assert timing.cron is not None
        after = started if first_pass or new_targets else max(sop.planned_until or started, started)
        window = window_of(step.window_start, step.window_end, tz)
        for fire in cron_occurrences(parse_cron(timing.cron, tz), after=after, until=until):
            key = occurrence_key(fire)
            targets = await _targets_without(session, sop=sop, step=step, occurrence=key)
            due = window.earliest(fire) if window else fire
            planned += await _insert(session, [_row(sop, step, target, key, due) for target in targets])
    sop.planned_until = max(until, sop.planned_until or until)
    return PlanResult(new_targets, planned)


async def release_expired_claims(
    session: AsyncSession, *, now: datetime, echo_grace: timedelta, max_attempts: int, retry_delay: timedelta
) -> int:
    """Hand back work of workers that stopped: unsent claims go back to pending; unconfirmed sends are settled.

    A send left `sending` is settled by its message: confirmed by GeWe's echo -> sent; still unconfirmed
    after `echo_grace` -> it never left, so it is queued again (or dead after `max_attempts`).
    """
    released = await session.execute(
        update(SopDelivery)
        .where(SopDelivery.status == in_sql_text("claimed"), SopDelivery.claimed_until < now)
        .values(status="pending", claimed_by=None, claimed_until=None, updated_at=now)
        .returning(SopDelivery.id)
    )
    count = len(released.all())
    stale = (
        await session.execute(
            select(SopDelivery, Message)
            .outerjoin(Message, Message.id == SopDelivery.message_id)
            .where(SopDelivery.status == in_sql_text("sending"), SopDelivery.claimed_until < now)
            .with_for_update(of=SopDelivery, skip_locked=True)
        )
    ).all()
    for delivery, message in stale:
        if message is not None and message.status == "sent":
            settle_sent(delivery, message=message, late_after=None)
        elif (
            message is not None
            and message.status == "sending"
            and (delivery.attempt_started_at is not None and now - delivery.attempt_started_at < echo_grace)
        ):
            continue
        else:
            if message is not None and message.status == "sending":
                message.status, message.error = "failed", "发送进程中断且未收到 GeWe 回执，已重新排队"
            schedule_retry(
                delivery,
                now=now,
                error=(message.error if message is not None else None) or "发送进程在发送前中断",
                max_attempts=max_attempts,
                retry_delay=retry_delay,
            )
        count += 1
    return count


def settle_sent(delivery: SopDelivery, *, message: Message, late_after: timedelta | None) -> None:
    """Mark a delivery sent by its (sent) message."""
    delivery.status = "sent"
    delivery.sent_at = message.sent_at
    delivery.gewe_new_msg_id = message.new_msg_id
    delivery.claimed_by = delivery.claimed_until = None
    delivery.error = ""
    if late_after is not None and message.sent_at is not None:
        delivery.late = message.sent_at - delivery.planned_for > late_after
    delivery.updated_at = message.sent_at or delivery.updated_at


def schedule_retry(
    delivery: SopDelivery, *, now: datetime, error: str, max_attempts: int, retry_delay: timedelta
) -> None:
    """Count a failed attempt: back to pending after a doubling delay, or dead once attempts run out."""
    delivery.attempts += 1
    delivery.error = error
    delivery.claimed_by = delivery.claimed_until = None
    delivery.message_id = None
    delivery.updated_at = now
    if delivery.attempts >= max_attempts:
        delivery.status = "dead"
        return
    delivery.status = "pending"
    delivery.due_at = now + retry_delay * (2 ** (delivery.attempts - 1))


async def complete_finished(
    session: AsyncSession, *, now: datetime, sop_ids: Iterable[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Mark running SOPs (all, or the given ones) with nothing left to send and nothing more to plan as completed."""
    open_work = exists().where(SopDelivery.sop_id == Sop.id, SopDelivery.status.in_(OPEN_STATUSES))
    recurring = exists().where(SopStep.sop_id == Sop.id, SopStep.timing["kind"].astext == "cron")
    still_planning = and_((Sop.dynamic.is_(True)) | recurring, (Sop.end_at.is_(None)) | (Sop.end_at > now))
    finished = update(Sop).where(Sop.status == "running", Sop.planned_until.is_not(None), ~open_work, ~still_planning)
    if sop_ids is not None:
        finished = finished.where(Sop.id.in_(list(sop_ids)))
    done = await session.execute(
        finished.values(
            status="completed", finished_at=now, status_reason="全部发送任务已完成", updated_at=now
        ).returning(Sop.id)
    )
    return list(done.scalars())
