"""Accounts: CRUD per organisation (audited), QR login, status changes with events, contact sync."""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.accounts.gewe import GeweGateway, gewe_errors
from backend.accounts.models import Account, AccountStatus
from backend.accounts.schemas import AccountOut, LoginQrOut, LoginStatusOut
from backend.audit import service as audit
from backend.auth.models import User
from backend.contacts.models import Contact
from backend.core.db import utcnow
from backend.core.errors import AppError, Conflict, NotFound
from backend.realtime.service import org_room, publish
from bots.gewe.models import BriefInfo

logger = logging.getLogger(__name__)

RELOGIN_NEEDED = "需要重新扫码登录"
UNSET: Any = object()


def new_callback_secret() -> str:
    """A random URL-safe secret naming an account's callback URL."""
    return secrets.token_urlsafe(24)


def callback_url(public_base_url: str, account: Account) -> str:
    """The full URL GeWe must post this account's callbacks to."""
    return f"{public_base_url.rstrip('/')}/callbacks/gewe/{account.callback_secret}"


def secrets_match(stored: str, presented: str) -> bool:
    """Compare callback secrets in constant time."""
    return hmac.compare_digest(stored.encode(), presented.encode())


def account_out(account: Account, *, public_base_url: str, with_callback_url: bool) -> AccountOut:
    """The account as the console sees it (never the GeWe token)."""
    return AccountOut(
        id=account.id,
        nickname=account.nickname,
        owner_user_id=account.owner_user_id,
        app_id=account.app_id,
        wxid=account.wxid,
        status=account.status,
        status_detail=account.status_detail,
        status_changed_at=account.status_changed_at,
        ai_enabled=account.ai_enabled,
        persona=account.persona,
        pacing=account.pacing,
        has_gewe_token=account.gewe_token_encrypted is not None,
        callback_url=callback_url(public_base_url, account) if with_callback_url else None,
        created_at=account.created_at,
    )


def device_status_data(account: Account) -> dict[str, Any]:
    """Body of a `device.status` event."""
    return {
        "account_id": str(account.id),
        "app_id": account.app_id,
        "wxid": account.wxid,
        "nickname": account.nickname,
        "status": account.status,
        "status_detail": account.status_detail,
        "status_changed_at": account.status_changed_at.isoformat(),
    }


def account_audit(account: Account) -> dict[str, Any]:
    """What the audit log keeps of an account (whether it has a GeWe token, never the token)."""
    return {
        "nickname": account.nickname,
        "owner_user_id": str(account.owner_user_id) if account.owner_user_id else None,
        "app_id": account.app_id,
        "wxid": account.wxid,
        "ai_enabled": account.ai_enabled,
        "persona": account.persona,
        "pacing": account.pacing,
        "has_gewe_token": account.gewe_token_encrypted is not None,
    }


async def _audit(
    session: AsyncSession, account: Account, *, actor_id: uuid.UUID | None, action: str, detail: dict[str, Any]
) -> None:
    await audit.record(
        session,
        organization_id=account.organization_id,
        actor_id=actor_id,
        action=action,
        target_type="account",
        target_id=str(account.id),
        detail=detail,
    )


async def _check_owner(session: AsyncSession, *, organization_id: uuid.UUID, owner_user_id: uuid.UUID) -> None:
    owner_org = await session.scalar(select(User.organization_id).where(User.id == owner_user_id))
    if owner_org != organization_id:
        raise NotFound(f"user {owner_user_id} not found")


async def create_account(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    gateway: GeweGateway,
    actor_id: uuid.UUID | None = None,
    nickname: str = "",
    owner_user_id: uuid.UUID | None = None,
    app_id: str | None = None,
    gewe_token: str | None = None,
    ai_enabled: bool = True,
    persona: str = "",
    pacing: dict[str, Any] | None = None,
) -> Account:
    """Create an account of the organisation with a fresh callback secret."""
    if owner_user_id is not None:
        await _check_owner(session, organization_id=organization_id, owner_user_id=owner_user_id)
    account = Account(
        organization_id=organization_id,
        nickname=nickname,
        owner_user_id=owner_user_id,
        app_id=app_id or None,
        gewe_token_encrypted=gateway.encrypt(gewe_token) if gewe_token else None,
        callback_secret=new_callback_secret(),
        ai_enabled=ai_enabled,
        persona=persona,
        pacing=pacing or {},
    )
    session.add(account)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"appId {app_id} already belongs to another account", code="app_id_taken") from exc
    await _audit(session, account, actor_id=actor_id, action="account.create", detail={"after": account_audit(account)})
    return account


async def list_accounts(session: AsyncSession, *, organization_id: uuid.UUID) -> list[Account]:
    """Accounts of an organisation, oldest first."""
    rows = await session.scalars(
        select(Account).where(Account.organization_id == organization_id).order_by(Account.created_at)
    )
    return list(rows)


async def get_account(
    session: AsyncSession, *, organization_id: uuid.UUID, account_id: uuid.UUID, for_update: bool = False
) -> Account:
    """One account of the organisation, or 404 (other organisations' accounts do not exist)."""
    statement = select(Account).where(Account.id == account_id, Account.organization_id == organization_id)
    account = await session.scalar(statement.with_for_update() if for_update else statement)
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return account


async def update_account(
    session: AsyncSession,
    *,
    account: Account,
    gateway: GeweGateway,
    actor_id: uuid.UUID | None = None,
    nickname: str | None = None,
    owner_user_id: Any = UNSET,
    gewe_token: str | None = None,
    ai_enabled: bool | None = None,
    persona: str | None = None,
    pacing: dict[str, Any] | None = None,
) -> Account:
    """Change the given fields of an account."""
    before = account_audit(account)
    if nickname is not None:
        account.nickname = nickname
    if owner_user_id is not UNSET:
        if owner_user_id is not None:
            await _check_owner(session, organization_id=account.organization_id, owner_user_id=owner_user_id)
        account.owner_user_id = owner_user_id
    if gewe_token is not None:
        account.gewe_token_encrypted = gateway.encrypt(gewe_token) if gewe_token else None
    if ai_enabled is not None:
        account.ai_enabled = ai_enabled
    if persona is not None:
        account.persona = persona
    if pacing is not None:
        account.pacing = pacing
    await session.flush()
    detail = audit.changes(before, account_audit(account))
    if gewe_token:  # a new token of an account that had one: the flag alone would not show the change
        detail["before"]["gewe_token"], detail["after"]["gewe_token"] = "(hidden)", "(changed)"
    await _audit(session, account, actor_id=actor_id, action="account.update", detail=detail)
    return account


async def delete_account(session: AsyncSession, *, account: Account, actor_id: uuid.UUID | None = None) -> None:
    """Delete an account with its contacts, conversations, messages and inbox."""
    await _audit(
        session, account, actor_id=actor_id, action="account.delete", detail={"before": account_audit(account)}
    )
    await session.delete(account)
    await session.flush()


async def set_status(session: AsyncSession, *, account: Account, status: AccountStatus, detail: str = "") -> bool:
    """Record a status change and publish `device.status`; False when nothing changed."""
    if account.status == status and account.status_detail == detail:
        return False
    account.status, account.status_detail, account.status_changed_at = status, detail, utcnow()
    await session.flush()
    publish(
        session,
        organization_id=account.organization_id,
        type="device.status",
        data=device_status_data(account),
        rooms=[org_room(account.organization_id), f"account:{account.id}"],
    )
    return True


async def request_login_qr(
    session: AsyncSession, *, account: Account, gateway: GeweGateway, actor_id: uuid.UUID | None = None
) -> LoginQrOut:
    """Ask GeWe for a login QR code, re-using the account's appId once it has one (audited as a (re-)login)."""
    previous = {"status": account.status, "app_id": account.app_id}
    async with gewe_errors():
        qr = await gateway.client(account).get_login_qr_code(account.app_id or "")
    if account.app_id and qr.app_id and qr.app_id != account.app_id:
        raise AppError(
            f"GeWe answered with appId {qr.app_id} instead of {account.app_id}", code="gewe_error", status_code=502
        )
    if not account.app_id:
        taken = await session.scalar(select(Account.id).where(Account.app_id == qr.app_id, Account.id != account.id))
        if taken is not None:
            raise Conflict(f"appId {qr.app_id} already belongs to another account", code="app_id_taken")
        account.app_id = qr.app_id
    account.last_login_uuid = qr.uuid
    await set_status(session, account=account, status=AccountStatus.logging_in, detail="等待扫码")
    await _audit(
        session,
        account,
        actor_id=actor_id,
        action="account.login",
        detail={"before": previous, "after": {"status": account.status, "app_id": account.app_id}},
    )
    return LoginQrOut(app_id=qr.app_id, uuid=qr.uuid, qr_data=qr.qr_data, qr_img_base64=qr.qr_img_base64)


async def check_login_status(
    session: AsyncSession, *, account: Account, gateway: GeweGateway, public_base_url: str
) -> LoginStatusOut:
    """Poll GeWe's checkLogin; once logged in, store wxid/nickname, go online and register the callback URL."""
    if not account.app_id or not account.last_login_uuid:
        raise Conflict("no QR login in progress: call login-qr first", code="no_login_in_progress")
    client = gateway.client(account)
    async with gewe_errors():
        status = await client.check_login(account.app_id, account.last_login_uuid)
    if status.logged_in:
        info = status.login_info
        if info is not None:
            account.wxid = info.wxid or account.wxid
            account.nickname = info.nickname or account.nickname
        async with gewe_errors():
            await client.set_callback(callback_url(public_base_url, account))
        account.last_login_uuid = None
        await set_status(session, account=account, status=AccountStatus.online)
    out = account_out(account, public_base_url=public_base_url, with_callback_url=True)
    return LoginStatusOut(
        login_status=status.status, expired_time=status.expired_time, needs_new_qr=status.needs_new_qr, account=out
    )


async def logout(
    session: AsyncSession, *, account: Account, gateway: GeweGateway, actor_id: uuid.UUID | None = None
) -> Account:
    """Log the account out of GeWe and mark it offline (audited)."""
    previous = account.status
    if account.app_id:
        async with gewe_errors():
            await gateway.client(account).logout(account.app_id)
    await set_status(session, account=account, status=AccountStatus.offline, detail="已退出登录")
    await _audit(
        session,
        account,
        actor_id=actor_id,
        action="account.logout",
        detail={"before": {"status": previous}, "after": {"status": account.status}},
    )
    return account


async def list_contacts(
    session: AsyncSession,
    *,
    account: Account,
    tag: str | None = None,
    is_group: bool | None = None,
    limit: int = 500,
    offset: int = 0,
) -> tuple[list[Contact], int]:
    """Stored contacts of an account filtered by tag and/or group flag, with the total count."""
    statement = select(Contact).where(Contact.account_id == account.id)
    if tag:
        statement = statement.where(Contact.tags.contains([tag]))
    if is_group is not None:
        statement = statement.where(Contact.is_group == is_group)
    total = int(await session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
    rows = await session.scalars(statement.order_by(Contact.wxid).limit(limit).offset(offset))
    return list(rows), total


async def upsert_contact(
    session: AsyncSession,
    *,
    account: Account,
    wxid: str,
    nickname: str | None = None,
    remark: str | None = None,
    tags: list[str] | None = None,
) -> None:
    """Insert a contact or update the fields given (None keeps what is stored)."""
    values: dict[str, Any] = {"nickname": nickname, "remark": remark, "tags": tags}
    changes = {key: value for key, value in values.items() if value is not None}
    statement = insert(Contact).values(
        id=uuid.uuid4(),
        organization_id=account.organization_id,
        account_id=account.id,
        wxid=wxid,
        is_group=wxid.endswith("@chatroom"),
        **changes,
    )
    if changes:
        statement = statement.on_conflict_do_update(
            index_elements=[Contact.account_id, Contact.wxid], set_={**changes, "updated_at": utcnow()}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[Contact.account_id, Contact.wxid])
    await session.execute(statement)


async def remove_contact(session: AsyncSession, *, account: Account, wxid: str) -> None:
    """Forget a contact that was deleted on WeChat."""
    await session.execute(delete(Contact).where(Contact.account_id == account.id, Contact.wxid == wxid))


async def sync_contacts(session: AsyncSession, *, account: Account, gateway: GeweGateway) -> tuple[int, int]:
    """Fetch friends and groups from GeWe with their brief info and labels (as tags); returns (friends, groups)."""
    if not account.app_id:
        raise Conflict("the account has never logged in", code="not_logged_in")
    client = gateway.client(account)
    async with gewe_errors():
        listing = await client.fetch_contacts_list(account.app_id)
        labels = {str(label.label_id): label.label_name for label in await client.list_labels(account.app_id)}
        wxids = [*listing.friends, *listing.chatrooms]
        briefs: dict[str, BriefInfo] = {}
        if wxids:
            briefs = {brief.user_name: brief for brief in await client.get_brief_info(account.app_id, wxids)}
    for wxid in wxids:
        brief = briefs.get(wxid)
        tags = [labels[label_id] for label_id in brief.label_ids if label_id in labels] if brief else []
        await upsert_contact(
            session,
            account=account,
            wxid=wxid,
            nickname=brief.nick_name if brief else None,
            remark=brief.remark if brief else None,
            tags=tags,
        )
    await session.flush()
    return len(listing.friends), len(listing.chatrooms)
