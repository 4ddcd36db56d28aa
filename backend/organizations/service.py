"""Organisation look-up and creation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.organizations.models import Organization


async def get_or_create(session: AsyncSession, *, name: str) -> Organization:
    """Return the organisation with this name, creating it when missing."""
    organization = await session.scalar(select(Organization).where(Organization.name == name))
    if organization is None:
        organization = Organization(name=name)
        session.add(organization)
        await session.flush()
    return organization
