"""Routes: /api/accounts (WeChat accounts of the caller's organisation)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from backend.accounts import service
from backend.accounts.deps import AccountManager, AccountReader, GatewayDep
from backend.accounts.models import Account
from backend.accounts.schemas import (
    AccountCreateIn,
    AccountOut,
    AccountPage,
    AccountUpdateIn,
    ContactOut,
    ContactPage,
    ContactSyncOut,
    LoginQrOut,
    LoginStatusOut,
    SendTextIn,
)
from backend.auth.models import Role, User
from backend.core.db import BIGINT_MAX
from backend.core.deps import SessionDep, SettingsDep
from backend.core.inputs import Text
from backend.messages import service as messages
from backend.messages.schemas import MessageOut

router = APIRouter(prefix="/api/accounts", tags=["accounts"])


def _out(account: Account, user: User, settings: SettingsDep) -> AccountOut:
    manages = user.role in {Role.admin, Role.manager}
    return service.account_out(account, public_base_url=settings.public_base_url, with_callback_url=manages)


@router.get("", response_model=AccountPage)
async def list_accounts(user: AccountReader, session: SessionDep, settings: SettingsDep) -> AccountPage:
    """Accounts of the caller's organisation."""
    accounts = await service.list_accounts(session, organization_id=user.organization_id)
    return AccountPage(items=[_out(a, user, settings) for a in accounts], total=len(accounts))


@router.post("", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
async def create_account(
    body: AccountCreateIn, user: AccountManager, session: SessionDep, settings: SettingsDep, gateway: GatewayDep
) -> AccountOut:
    """Add a WeChat account; log it in with login-qr afterwards."""
    account = await service.create_account(
        session,
        organization_id=user.organization_id,
        gateway=gateway,
        actor_id=user.id,
        nickname=body.nickname,
        owner_user_id=body.owner_user_id,
        app_id=body.app_id,
        gewe_token=body.gewe_token,
        ai_enabled=body.ai_enabled,
        persona=body.persona,
        pacing=body.pacing.model_dump(exclude_none=True),
    )
    return _out(account, user, settings)


@router.get("/{account_id}", response_model=AccountOut)
async def get_account(
    account_id: uuid.UUID, user: AccountReader, session: SessionDep, settings: SettingsDep
) -> AccountOut:
    """One account of the caller's organisation."""
    account = await service.get_account(session, organization_id=user.organization_id, account_id=account_id)
    return _out(account, user, settings)


@router.patch("/{account_id}", response_model=AccountOut)
async def update_account(
    account_id: uuid.UUID,
    body: AccountUpdateIn,
    user: AccountManager,
    session: SessionDep,
    settings: SettingsDep,
    gateway: GatewayDep,
) -> AccountOut:
    """Change nickname, owner, GeWe token, AI switch, persona or pacing."""
    account = await service.get_account(session, organization_id=user.organization_id, account_id=account_id)
    given = body.model_fields_set
    account = await service.update_account(
        session,
        account=account,
        gateway=gateway,
        actor_id=user.id,
        nickname=body.nickname,
        owner_user_id=body.owner_user_id if "owner_user_id" in given else service.UNSET,
        gewe_token=body.gewe_token,
        ai_enabled=body.ai_enabled,
        persona=body.persona,
        pacing=body.pacing.model_dump(exclude_none=True) if body.pacing is not None else None,
    )
    return _out(account, user, settings)


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_account(account_id: uuid.UUID, user: AccountManager, session: SessionDep) -> Response:
    """Delete an account and everything stored for it."""
    account = await service.get_account(session, organization_id=user.organization_id, account_id=account_id)
    await service.delete_account(session, account=account, actor_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{account_id}/login-qr", response_model=LoginQrOut)
async def login_qr(account_id: uuid.UUID, user: AccountManager, session: SessionDep, gateway: GatewayDep) -> LoginQrOut:
    """Get a QR code to scan with the phone (re-uses the account's appId once known)."""
    account = await service.get_account(
        session, organization_id=user.organization_id, account_id=account_id, for_update=True
    )
    return await service.request_login_qr(session, account=account, gateway=gateway, actor_id=user.id)


@router.get("/{account_id}/login-status", response_model=LoginStatusOut)
async def login_status(
    account_id: uuid.UUID, user: AccountManager, session: SessionDep, settings: SettingsDep, gateway: GatewayDep
) -> LoginStatusOut:
    """Poll the QR login; on success the account is online and its callback URL registered."""
    account = await service.get_account(
        session, organization_id=user.organization_id, account_id=account_id, for_update=True
    )
    return await service.check_login_status(
        session, account=account, gateway=gateway, public_base_url=settings.public_base_url
    )


@router.post("/{account_id}/logout", response_model=AccountOut)
async def logout(
    account_id: uuid.UUID, user: AccountManager, session: SessionDep, settings: SettingsDep, gateway: GatewayDep
) -> AccountOut:
    """Log the account out of WeChat."""
    account = await service.get_account(session, organization_id=user.organization_id, account_id=account_id)
    return _out(await service.logout(session, account=account, gateway=gateway, actor_id=user.id), user, settings)


@router.get("/{account_id}/contacts", response_model=ContactPage)
async def list_contacts(
    account_id: uuid.UUID,
    user: AccountReader,
    session: SessionDep,
    tag: Annotated[Text | None, Query(description="Only contacts with this tag")] = None,
    is_group: Annotated[bool | None, Query(description="Only groups (true) or only friends (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
) -> ContactPage:
    """Stored contacts of the account."""
    account = await service.get_account(session, organization_id=user.organization_id, account_id=account_id)
    contacts, total = await service.list_contacts(
        session, account=account, tag=tag, is_group=is_group, limit=limit, offset=offset
    )
    return ContactPage(items=[ContactOut.model_validate(c) for c in contacts], total=total)


@router.post("/{account_id}/sync-contacts", response_model=ContactSyncOut)
async def sync_contacts(
    account_id: uuid.UUID, user: AccountManager, session: SessionDep, gateway: GatewayDep
) -> ContactSyncOut:
    """Fetch friends and groups (with labels as tags) from GeWe and store them."""
    account = await service.get_account(session, organization_id=user.organization_id, account_id=account_id)
    friends, groups = await service.sync_contacts(session, account=account, gateway=gateway)
    return ContactSyncOut(friends=friends, groups=groups, total=friends + groups)


@router.post("/{account_id}/messages", response_model=MessageOut, status_code=status.HTTP_201_CREATED)
async def send_message(
    account_id: uuid.UUID,
    body: SendTextIn,
    request: Request,
    user: AccountReader,
    session: SessionDep,
    gateway: GatewayDep,
) -> MessageOut:
    """Send text as the account (staff); a GeWe refusal comes back as status `failed` with GeWe's message."""
    account = await service.get_account(session, organization_id=user.organization_id, account_id=account_id)
    message = await messages.send_text(
        session,
        account=account,
        to_wxid=body.to_wxid,
        text=body.text,
        sent_by="staff",
        sent_by_user_id=user.id,
        gateway=gateway,
        pacer=request.app.state.pacer,
    )
    return MessageOut.model_validate(message)


@router.get("/{account_id}/messages", response_model=list[MessageOut])
async def list_messages(
    account_id: uuid.UUID,
    user: AccountReader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MessageOut]:
    """The account's raw message log, newest first."""
    account = await service.get_account(session, organization_id=user.organization_id, account_id=account_id)
    rows = await messages.list_messages(session, account_id=account.id, limit=limit)
    return [MessageOut.model_validate(m) for m in rows]
