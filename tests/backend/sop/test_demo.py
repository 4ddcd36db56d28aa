"""The demo organisation gets one SOP draft to start from."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.core.db import Database
from backend.core.runtime import DEMO_ORGANIZATION, ensure_demo_data
from backend.organizations.models import Organization
from backend.sop.models import Sop, SopStep

LOGINS = [{"username": "demo_manager_sop", "password": "manager-pw-123", "role": "manager"}]


async def test_demo_data_creates_the_sample_sop_draft_once(db: Database) -> None:
    await ensure_demo_data(db, LOGINS)
    await ensure_demo_data(db, LOGINS)

    async with db.sessionmaker() as session:
        sops = list(await session.scalars(select(Sop).join(Organization).where(Organization.name == DEMO_ORGANIZATION)))
        steps = await session.scalar(select(func.count()).select_from(SopStep).where(SopStep.sop_id == sops[0].id))
    assert [(sop.name, sop.status) for sop in sops] == [("新客欢迎 SOP", "draft")]
    assert steps == 3
