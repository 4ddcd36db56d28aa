"""Organisation scoping helpers every feature's queries go through."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.auth.models import Role, User
from backend.core.deps import get_in_org, org_scoped
from backend.core.errors import NotFound


async def test_org_scoped_select_returns_only_the_callers_organisation(db, make_user, make_org) -> None:
    organization = await make_org()
    caller, _ = await make_user(Role.admin, organization=organization)
    colleague, _ = await make_user(Role.sales, organization=organization)
    await make_user(Role.sales)  # another organisation
    async with db.sessionmaker() as session:
        rows = (await session.scalars(org_scoped(select(User), User, caller))).all()
    assert {row.id for row in rows} == {caller.id, colleague.id}


async def test_get_in_org_hides_rows_of_other_organisations_as_404(db, make_user) -> None:
    caller, _ = await make_user(Role.admin)
    stranger, _ = await make_user(Role.sales)
    async with db.sessionmaker() as session:
        assert (await get_in_org(session, User, caller.id, caller)).id == caller.id
        with pytest.raises(NotFound):
            await get_in_org(session, User, stranger.id, caller)
