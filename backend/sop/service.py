"""SOP definitions and their control: create/edit, start/pause/resume/cancel, preview, progress, deliveries."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.models import Account
from backend.audit.service import record
from backend.auth.models import User
from backend.contacts.models import Contact
from backend.core.db import utcnow
from backend.core.deps import get_in_org
from backend.core.errors import Conflict, NotFound
from backend.messages.models import Message
from backend.messages.service import policy_with_overrides
from backend.realtime.service import publish
from backend.sop.models import Sop, SopDelivery, SopStep, SopTarget
from backend.sop.planner import PlanResult, plan
from backend.sop.schemas import (
    AccountProgress,
    AccountRisk,
    Counts,
    DeliveryOut,
    DeliveryPage,
    PreviewOut,
    Progress,
    RenderedStep,
    SopIn,
    SopOut,
    StepContent,
    StepOut,
    TargetCount,
    TargetCountAccount,
    TargetOut,
    TargetPage,
    TargetPreview,
    TargetSpec,
)
from backend.sop.targets import target_filter
from backend.sop.templates import render
from bots.pacer import PacingPolicy

NEW_DEVICE_DAYS = 7
LARGE_GROUP_COUNT = 50
SAMPLE_TARGETS = 3
STEP_FIELDS = (
    "content",
    "timing",
    "window_start",
    "window_end",
    "missed",
    "when_human",
    "stop_on_reply",
    "stop_on_tags",
    "ai_personalize",
    "ai_instruction",
)
EDITABLE = ("draft", "paused", "completed", "cancelled")
TRANSITIONS = {
    "start": ("draft",),
    "pause": ("running",),
    "resume": ("paused",),
    "cancel": ("draft", "running", "paused"),
}


STATUS_NAMES = {"offline": "离线", "logging_in": "登录中", "error": "异常", "online": "在线"}


def _who(user: User) -> str:
    return user.display_name or user.username


async def _audit(
    session: AsyncSession, user: User, action: str, sop: Sop, detail: dict[str, object] | None = None
) -> None:
    await record(
        session,
        organization_id=sop.organization_id,
        actor_id=user.id,
        action=action,
        target_type="sop",
        target_id=str(sop.id),
        detail={"name": sop.name, **(detail or {})},
    )


def _step_rows(sop_id: uuid.UUID, body: SopIn) -> list[SopStep]:
    return [
        SopStep(
            sop_id=sop_id,
            position=position,
            content=step.content.model_dump(mode="json"),
            timing=step.timing.model_dump(mode="json"),
            window_start=step.window_start,
            window_end=step.window_end,
            missed=step.missed,
            when_human=step.when_human,
            stop_on_reply=step.stop_on_reply,
            stop_on_tags=step.stop_on_tags,
            ai_personalize=step.ai_personalize,
            ai_instruction=step.ai_instruction,
        )
        for position, step in enumerate(body.steps, start=1)
    ]


async def _check_accounts(session: AsyncSession, *, organization_id: uuid.UUID, spec: TargetSpec) -> None:
    """Refuse target accounts or contacts of another organisation (they are reported as not found)."""
    if spec.account_ids:
        found = set(
            await session.scalars(
                select(Account.id).where(Account.organization_id == organization_id, Account.id.in_(spec.account_ids))
            )
        )
        missing = [str(account_id) for account_id in spec.account_ids if account_id not in found]
        if missing:
            raise NotFound(f"accounts not found: {', '.join(missing)}")
    if spec.contact_ids:
        found = set(
            await session.scalars(
                select(Contact.id).where(Contact.organization_id == organization_id, Contact.id.in_(spec.contact_ids))
            )
        )
        missing = [str(contact_id) for contact_id in spec.contact_ids if contact_id not in found]
        if missing:
            raise NotFound(f"contacts not found: {', '.join(missing)}")


async def steps_of(session: AsyncSession, sop_id: uuid.UUID) -> list[SopStep]:
    """A SOP's steps in order."""
    return list(await session.scalars(select(SopStep).where(SopStep.sop_id == sop_id).order_by(SopStep.position)))


async def views(session: AsyncSession, sops: list[Sop]) -> list[SopOut]:
    """API views of SOPs with their steps and progress (three queries whatever their number)."""
    steps: dict[uuid.UUID, list[SopStep]] = defaultdict(list)
    if sops:
        rows = await session.scalars(
            select(SopStep).where(SopStep.sop_id.in_([sop.id for sop in sops])).order_by(SopStep.position)
        )
        for step in rows:
            steps[step.sop_id].append(step)
    progress = await progress_of(session, sops=sops)
    return [
        SopOut(
            id=sop.id,
            name=sop.name,
            description=sop.description,
            status=sop.status,
            status_reason=sop.status_reason,
            timezone=sop.timezone,
            dynamic=sop.dynamic,
            end_at=sop.end_at,
            targets=TargetSpec.model_validate(sop.targets),
            steps=[StepOut.model_validate(step) for step in steps[sop.id]],
            created_at=sop.created_at,
            updated_at=sop.updated_at,
            started_at=sop.started_at,
            finished_at=sop.finished_at,
            progress=progress[sop.id],
        )
        for sop in sops
    ]


async def view(session: AsyncSession, sop: Sop) -> SopOut:
    """The API view of one SOP with its steps and progress."""
    [single] = await views(session, [sop])
    return single


async def list_sops(session: AsyncSession, *, user: User) -> list[SopOut]:
    """The organisation's SOPs, newest first, with progress."""
    sops = await session.scalars(
        select(Sop).where(Sop.organization_id == user.organization_id).order_by(Sop.created_at.desc())
    )
    return await views(session, list(sops))


async def create_sop(session: AsyncSession, *, user: User, body: SopIn) -> Sop:
    """Store a new SOP as a draft."""
    await _check_accounts(session, organization_id=user.organization_id, spec=body.targets)
    sop = Sop(
        organization_id=user.organization_id,
        name=body.name,
        description=body.description,
        timezone=body.timezone,
        dynamic=body.dynamic,
        end_at=body.end_at,
        targets=body.targets.model_dump(mode="json"),
        created_by=user.id,
    )
    session.add(sop)
    await session.flush()
    session.add_all(_step_rows(sop.id, body))
    await _audit(session, user, "sop.create", sop)
    await session.flush()
    return sop


async def update_sop(session: AsyncSession, *, user: User, sop_id: uuid.UUID, body: SopIn) -> Sop:
    """Replace a SOP's definition; not while it runs, and steps are frozen once deliveries exist."""
    sop = await get_in_org(session, Sop, sop_id, user)
    if sop.status not in EDITABLE:
        raise Conflict(f"the SOP is {sop.status}; pause it before editing")
    await _check_accounts(session, organization_id=user.organization_id, spec=body.targets)
    planned = await session.scalar(select(func.count()).select_from(SopDelivery).where(SopDelivery.sop_id == sop.id))
    if planned and len(body.steps) != len(await steps_of(session, sop.id)):
        raise Conflict("steps cannot be added or removed after deliveries were planned; create a new SOP")
    sop.name, sop.description, sop.timezone = body.name, body.description, body.timezone
    sop.dynamic, sop.end_at, sop.targets = body.dynamic, body.end_at, body.targets.model_dump(mode="json")
    sop.updated_at = utcnow()
    if planned:
        for step, new in zip(await steps_of(session, sop.id), _step_rows(sop.id, body), strict=True):
            for field in STEP_FIELDS:
                setattr(step, field, getattr(new, field))
    else:
        await session.execute(delete(SopStep).where(SopStep.sop_id == sop.id))
        session.add_all(_step_rows(sop.id, body))
    await _audit(session, user, "sop.update", sop)
    await session.flush()
    return sop


async def delete_sop(session: AsyncSession, *, user: User, sop_id: uuid.UUID) -> None:
    """Delete a SOP that is not running, with its deliveries."""
    sop = await get_in_org(session, Sop, sop_id, user)
    if sop.status == "running":
        raise Conflict("the SOP is running; cancel it before deleting")
    await _audit(session, user, "sop.delete", sop)
    await session.delete(sop)


async def _lock(session: AsyncSession, *, user: User, sop_id: uuid.UUID, action: str) -> Sop:
    await get_in_org(session, Sop, sop_id, user)
    sop = await session.scalar(
        select(Sop).where(Sop.id == sop_id).with_for_update().execution_options(populate_existing=True)
    )
    assert sop is not None
    if sop.status not in TRANSITIONS[action]:
        raise Conflict(f"cannot {action} a SOP that is {sop.status}")
    return sop


async def start_sop(
    session: AsyncSession, *, user: User, sop_id: uuid.UUID, now: datetime, horizon: timedelta
) -> PlanResult:
    """Start a draft: resolve its targets and plan its deliveries now, so progress has totals at once."""
    sop = await _lock(session, user=user, sop_id=sop_id, action="start")
    sop.status, sop.status_reason, sop.started_at, sop.updated_at = "running", f"{_who(user)} 启动", now, now
    result = await plan(session, sop=sop, now=now, horizon=horizon)
    await _audit(session, user, "sop.start", sop, {"targets": result.new_targets, "deliveries": result.deliveries})
    await publish_progress(session, sop=sop)
    return result


async def _pause_or_resume(session: AsyncSession, *, user: User, sop_id: uuid.UUID, action: str, now: datetime) -> Sop:
    sop = await _lock(session, user=user, sop_id=sop_id, action=action)
    pausing = action == "pause"
    sop.status = "paused" if pausing else "running"
    sop.status_reason = f"{_who(user)} {'暂停' if pausing else '继续'}"
    sop.paused_at, sop.updated_at = (now if pausing else None), now
    await _audit(session, user, f"sop.{action}", sop)
    await publish_progress(session, sop=sop)
    return sop


async def pause_sop(session: AsyncSession, *, user: User, sop_id: uuid.UUID, now: datetime) -> Sop:
    """Pause: sends already under way finish, nothing new starts."""
    return await _pause_or_resume(session, user=user, sop_id=sop_id, action="pause", now=now)


async def resume_sop(session: AsyncSession, *, user: User, sop_id: uuid.UUID, now: datetime) -> Sop:
    """Resume: due deliveries go out again, each under its step's window and missed-window policy."""
    return await _pause_or_resume(session, user=user, sop_id=sop_id, action="resume", now=now)


async def cancel_sop(session: AsyncSession, *, user: User, sop_id: uuid.UUID, now: datetime) -> Sop:
    """Cancel: every delivery not yet under way is cancelled; the SOP ends."""
    sop = await _lock(session, user=user, sop_id=sop_id, action="cancel")
    await session.execute(
        update(SopDelivery)
        .where(SopDelivery.sop_id == sop.id, SopDelivery.status.in_(("pending", "claimed")))
        .values(status="cancelled", claimed_by=None, claimed_until=None, error="SOP cancelled", updated_at=now)
    )
    sop.status, sop.status_reason = "cancelled", f"{_who(user)} 取消"
    sop.finished_at = sop.updated_at = now
    await _audit(session, user, "sop.cancel", sop)
    await publish_progress(session, sop=sop)
    return sop


async def progress_of(session: AsyncSession, *, sops: list[Sop]) -> dict[uuid.UUID, Progress]:
    """Deliveries by status, per SOP and account."""
    if not sops:
        return {}
    rows = (
        await session.execute(
            select(
                SopDelivery.sop_id,
                SopDelivery.account_id,
                Account.nickname,
                SopDelivery.status,
                func.count(),
                func.count().filter(SopDelivery.late),
            )
            .join(Account, Account.id == SopDelivery.account_id)
            .where(SopDelivery.sop_id.in_([sop.id for sop in sops]))
            .group_by(SopDelivery.sop_id, SopDelivery.account_id, Account.nickname, SopDelivery.status)
        )
    ).all()
    accounts: dict[uuid.UUID, dict[uuid.UUID, AccountProgress]] = defaultdict(dict)
    for sop_id, account_id, nickname, status, count, late in rows:
        entry = accounts[sop_id].setdefault(account_id, AccountProgress(account_id=account_id, nickname=nickname))
        setattr(entry, status, getattr(entry, status) + count)
        entry.total += count
        entry.late += late
    result = {}
    for sop in sops:
        per_account = sorted(accounts[sop.id].values(), key=lambda entry: entry.nickname)
        totals = Counts()
        for entry in per_account:
            for field in Counts.model_fields:
                setattr(totals, field, getattr(totals, field) + getattr(entry, field))
        result[sop.id] = Progress(sop_id=sop.id, status=sop.status, totals=totals, accounts=per_account)
    return result


async def publish_progress(session: AsyncSession, *, sop: Sop) -> Progress:
    """Queue a `sop.progress` event with the SOP's current counts (sent when the session commits)."""
    await session.flush()
    progress = (await progress_of(session, sops=[sop]))[sop.id]
    publish(session, organization_id=sop.organization_id, type="sop.progress", data=progress.model_dump(mode="json"))
    return progress


def _contacts(organization_id: uuid.UUID, spec: TargetSpec) -> Select[Any]:
    return select(Contact).where(target_filter(organization_id, spec))


async def count_targets(session: AsyncSession, *, user: User, spec: TargetSpec) -> TargetCount:
    """How many friends and groups a target spec matches now, per account."""
    await _check_accounts(session, organization_id=user.organization_id, spec=spec)
    rows = (
        await session.execute(
            select(Account.id, Account.nickname, Contact.is_group, func.count())
            .join(Contact, Contact.account_id == Account.id)
            .where(target_filter(user.organization_id, spec))
            .group_by(Account.id, Account.nickname, Contact.is_group)
        )
    ).all()
    per_account: dict[uuid.UUID, TargetCountAccount] = {}
    for account_id, nickname, is_group, count in rows:
        entry = per_account.setdefault(
            account_id, TargetCountAccount(account_id=account_id, nickname=nickname, friends=0, groups=0)
        )
        if is_group:
            entry.groups += count
        else:
            entry.friends += count
    accounts = sorted(per_account.values(), key=lambda entry: entry.nickname)
    return TargetCount(total=sum(entry.friends + entry.groups for entry in accounts), accounts=accounts)


def _target_out(contact: Contact) -> TargetOut:
    return TargetOut(
        contact_id=contact.id,
        account_id=contact.account_id,
        wxid=contact.wxid,
        nickname=contact.nickname,
        remark=contact.remark,
        is_group=contact.is_group,
        tags=contact.tags,
        added_at=contact.added_at,
    )


def _targets_statement(sop: Sop) -> Select[Any]:
    """The SOP's resolved targets once started; before that, what its spec matches now."""
    if sop.status == "draft":
        return _contacts(sop.organization_id, TargetSpec.model_validate(sop.targets))
    return select(Contact).join(SopTarget, SopTarget.contact_id == Contact.id).where(SopTarget.sop_id == sop.id)


async def list_targets(
    session: AsyncSession,
    *,
    user: User,
    sop_id: uuid.UUID,
    account_id: uuid.UUID | None,
    q: str | None,
    limit: int,
    offset: int,
) -> TargetPage:
    """A page of the SOP's targets."""
    sop = await get_in_org(session, Sop, sop_id, user)
    statement = _targets_statement(sop)
    if account_id is not None:
        statement = statement.where(Contact.account_id == account_id)
    if q:
        pattern = f"%{q}%"
        statement = statement.where(
            or_(Contact.nickname.ilike(pattern), Contact.remark.ilike(pattern), Contact.wxid.ilike(pattern))
        )
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    contacts = await session.scalars(statement.order_by(Contact.nickname, Contact.id).limit(limit).offset(offset))
    return TargetPage(total=total, items=[_target_out(contact) for contact in contacts])


def rendered_text(content: StepContent, *, contact: Contact, account: Account, at: datetime) -> str:
    """A step's text for one target."""
    return render(content.text, nickname=contact.nickname, remark=contact.remark, account_name=account.nickname, at=at)


async def _preview_target(
    session: AsyncSession, *, sop: Sop, steps: list[SopStep], contact: Contact, now: datetime
) -> TargetPreview:
    account = await session.get(Account, contact.account_id)
    assert account is not None
    due = dict(
        (
            await session.execute(
                select(SopDelivery.step_id, func.min(SopDelivery.due_at))
                .where(SopDelivery.sop_id == sop.id, SopDelivery.contact_id == contact.id)
                .group_by(SopDelivery.step_id)
            )
        ).all()
    )
    local_now = now.astimezone(ZoneInfo(sop.timezone))
    rendered = []
    for step in steps:
        content = StepContent.model_validate(step.content)
        rendered.append(
            RenderedStep(
                step_id=step.id,
                position=step.position,
                kind=content.kind,
                text=rendered_text(content, contact=contact, account=account, at=due.get(step.id, local_now)),
                title=content.title,
                due_at=due.get(step.id),
            )
        )
    return TargetPreview(target=_target_out(contact), steps=rendered)


async def preview_target(
    session: AsyncSession, *, user: User, sop_id: uuid.UUID, contact_id: uuid.UUID, now: datetime
) -> TargetPreview:
    """Every step of a SOP rendered for one contact of the organisation."""
    sop = await get_in_org(session, Sop, sop_id, user)
    contact = await get_in_org(session, Contact, contact_id, user)
    return await _preview_target(session, sop=sop, steps=await steps_of(session, sop.id), contact=contact, now=now)


def _send_seconds(policy: PacingPolicy, messages: int) -> float:
    """Seconds the pacer needs for `messages` sends (recipient switches, per-minute cap and daily cap ignored)."""
    if messages <= 0:
        return 0.0
    per_send = max(sum(policy.switch_jitter) / 2, policy.window_seconds / max(policy.per_minute_cap, 1))
    return (messages - 1) * per_send


async def preview(
    session: AsyncSession, *, user: User, sop_id: uuid.UUID, now: datetime, default_policy: PacingPolicy
) -> PreviewOut:
    """Targets and messages per account, the time the pacer needs for them, the daily-cap impact, and warnings."""
    sop = await get_in_org(session, Sop, sop_id, user)
    steps = await steps_of(session, sop.id)
    targets = _targets_statement(sop).subquery()
    rows = (
        await session.execute(
            select(targets.c.account_id, targets.c.is_group, func.count()).group_by(
                targets.c.account_id, targets.c.is_group
            )
        )
    ).all()
    per_account: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    for account_id, is_group, count in rows:
        per_account[account_id][1 if is_group else 0] += count
    accounts = {
        account.id: account
        for account in await session.scalars(select(Account).where(Account.id.in_(list(per_account))))
    }
    day_start = now.astimezone(ZoneInfo(sop.timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today = (
        dict(
            (
                await session.execute(
                    select(Message.account_id, func.count())
                    .where(
                        Message.account_id.in_(list(per_account)),
                        Message.direction == "out",
                        Message.sent_by != "phone",
                        Message.created_at >= day_start,
                    )
                    .group_by(Message.account_id)
                )
            ).all()
        )
        if per_account
        else {}
    )
    risks: list[AccountRisk] = []
    warnings: list[str] = []
    for account_id, (friends, groups) in per_account.items():
        account = accounts[account_id]
        policy = policy_with_overrides(default_policy, account.pacing) or default_policy
        messages = (friends + groups) * len(steps)
        already = sent_today.get(account_id, 0)
        account_warnings = []
        if account.status != "online":
            account_warnings.append(f"账号当前{STATUS_NAMES.get(account.status, account.status)}：恢复在线后才会发送")
        if now - account.created_at < timedelta(days=NEW_DEVICE_DAYS):
            account_warnings.append(f"新设备（接入不足 {NEW_DEVICE_DAYS} 天）：微信对新设备群发更敏感，建议降低频率")
        if groups > LARGE_GROUP_COUNT:
            account_warnings.append(f"{groups} 个群聊：向大量群群发容易触发风控")
        days_needed = 1
        if policy.daily_cap:
            room_today = max(policy.daily_cap - already, 0)
            if messages > room_today:
                days_needed = 1 + math.ceil((messages - room_today) / policy.daily_cap)
                account_warnings.append(
                    f"{messages} 条消息超过今日剩余额度（{room_today}/{policy.daily_cap}），将分 {days_needed} 天发完"
                )
        risks.append(
            AccountRisk(
                account_id=account_id,
                nickname=account.nickname,
                status=account.status,
                targets=friends + groups,
                groups=groups,
                messages=messages,
                per_minute_cap=policy.per_minute_cap,
                daily_cap=policy.daily_cap,
                sent_today=already,
                estimated_seconds=round(_send_seconds(policy, messages), 1),
                days_needed=days_needed,
                warnings=account_warnings,
            )
        )
        warnings.extend(f"{account.nickname or account_id}: {warning}" for warning in account_warnings)
    risks.sort(key=lambda risk: risk.nickname)
    if not risks:
        warnings.append("没有符合条件的发送对象")
    samples = [
        await _preview_target(session, sop=sop, steps=steps, contact=contact, now=now)
        for contact in await session.scalars(
            _targets_statement(sop).order_by(Contact.added_at.desc()).limit(SAMPLE_TARGETS)
        )
    ]
    return PreviewOut(
        total_targets=sum(risk.targets for risk in risks),
        total_messages=sum(risk.messages for risk in risks),
        estimated_seconds=max((risk.estimated_seconds for risk in risks), default=0.0),
        accounts=risks,
        warnings=warnings,
        samples=samples,
    )


async def list_deliveries(
    session: AsyncSession,
    *,
    user: User,
    sop_id: uuid.UUID,
    status: str | None,
    account_id: uuid.UUID | None,
    step_id: uuid.UUID | None,
    q: str | None,
    limit: int,
    offset: int,
) -> DeliveryPage:
    """A page of a SOP's deliveries, filtered, most recently changed first."""
    sop = await get_in_org(session, Sop, sop_id, user)
    statement = (
        select(SopDelivery, SopStep.position, Contact.nickname, Contact.remark, Contact.wxid, Account.nickname)
        .join(SopStep, SopStep.id == SopDelivery.step_id)
        .join(Contact, Contact.id == SopDelivery.contact_id)
        .join(Account, Account.id == SopDelivery.account_id)
        .where(SopDelivery.sop_id == sop.id)
    )
    if status:
        statement = statement.where(SopDelivery.status == status)
    if account_id:
        statement = statement.where(SopDelivery.account_id == account_id)
    if step_id:
        statement = statement.where(SopDelivery.step_id == step_id)
    if q:
        pattern = f"%{q}%"
        statement = statement.where(
            or_(Contact.nickname.ilike(pattern), Contact.remark.ilike(pattern), Contact.wxid.ilike(pattern))
        )
    total = (
        await session.scalar(select(func.count()).select_from(statement.with_only_columns(SopDelivery.id).subquery()))
        or 0
    )
    rows = await session.execute(
        statement.order_by(SopDelivery.updated_at.desc(), SopDelivery.id.desc()).limit(limit).offset(offset)
    )
    items = [
        DeliveryOut(
            id=delivery.id,
            step_id=delivery.step_id,
            step_position=position,
            contact_id=delivery.contact_id,
            contact_name=remark or nickname or wxid,
            wxid=wxid,
            account_id=delivery.account_id,
            account_nickname=account_nickname,
            occurrence=delivery.occurrence,
            status=delivery.status,
            due_at=delivery.due_at,
            sent_at=delivery.sent_at,
            late=delivery.late,
            attempts=delivery.attempts,
            error=delivery.error,
            gewe_new_msg_id=delivery.gewe_new_msg_id,
        )
        for delivery, position, nickname, remark, wxid, account_nickname in rows
    ]
    return DeliveryPage(total=total, items=items)


async def retry_dead(
    session: AsyncSession, *, user: User, sop_id: uuid.UUID, delivery_id: int | None, now: datetime
) -> int:
    """Queue dead deliveries (one, or all of the SOP) again with fresh attempts."""
    sop = await get_in_org(session, Sop, sop_id, user)
    if sop.status == "cancelled":
        raise Conflict("the SOP is cancelled; its dead letters cannot be sent again")
    statement = (
        update(SopDelivery)
        .where(SopDelivery.sop_id == sop.id, SopDelivery.status == "dead")
        .values(status="pending", attempts=0, due_at=now, error="", updated_at=now)
        .returning(SopDelivery.id)
    )
    if delivery_id is not None:
        statement = statement.where(SopDelivery.id == delivery_id)
    retried = len((await session.execute(statement)).all())
    if delivery_id is not None and not retried:
        raise NotFound(f"no dead delivery {delivery_id} in this SOP")
    if retried and sop.status == "completed":
        sop.status, sop.status_reason, sop.finished_at = "running", "失败消息已重新排队", None
    await _audit(session, user, "sop.retry", sop, {"retried": retried})
    await publish_progress(session, sop=sop)
    return retried
