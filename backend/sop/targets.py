"""Resolving a SOP's target spec to contacts of the organisation."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from backend.accounts.models import Account
from backend.contacts.models import Contact
from backend.sop.schemas import TargetSpec


def _has_tag(tag: str) -> ColumnElement[bool]:
    return Contact.tags.contains(func.cast(func.jsonb_build_array(tag), JSONB))


def target_filter(organization_id: uuid.UUID, spec: TargetSpec) -> ColumnElement[bool]:
    """The WHERE clause selecting the contacts a spec targets inside one organisation."""
    clauses: list[ColumnElement[bool]] = [Contact.organization_id == organization_id]
    if spec.account_ids:
        clauses.append(Contact.account_id.in_(spec.account_ids))
    if spec.contact_ids:
        clauses.append(Contact.id.in_(spec.contact_ids))
        return and_(*clauses)
    if spec.kinds == "friends":
        clauses.append(Contact.is_group.is_(False))
    elif spec.kinds == "groups":
        clauses.append(Contact.is_group.is_(True))
    if spec.tags:
        tag_clauses = [_has_tag(tag) for tag in spec.tags]
        clauses.append(or_(*tag_clauses) if spec.tag_mode == "any" else and_(*tag_clauses))
    return and_(*clauses)


def targets_query(organization_id: uuid.UUID, spec: TargetSpec) -> Select[Any]:
    """Contacts of the organisation's accounts that a spec targets."""
    return (
        select(Contact)
        .join(Account, Account.id == Contact.account_id)
        .where(Account.organization_id == organization_id, target_filter(organization_id, spec))
    )
