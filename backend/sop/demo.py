"""A draft SOP for the demo organisation, so the SOP page shows a realistic sequence to start from."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import User
from backend.sop.models import Sop
from backend.sop.schemas import SopIn
from backend.sop.service import create_sop

DEMO_SOP = {
    "name": "新客欢迎 SOP",
    "description": "加好友当天问候，第2天介绍门店与新品，之后每周一推送本周活动；客户回复后不再推送第2天内容。",
    "dynamic": True,
    # Every friend: with day-N steps only friends added on or after the start day get them (new friends).
    "targets": {"kinds": "friends"},
    "steps": [
        {
            "content": {"kind": "text", "text": "{称呼}您好，我是{账号}，很高兴认识您！有任何问题随时找我～"},
            "timing": {"kind": "day_offset", "day": 0, "time": "10:00"},
            "window_start": "09:00",
            "window_end": "21:00",
        },
        {
            "content": {
                "kind": "link",
                "title": "本店新品与会员权益",
                "description": "新客首单立减 20 元",
                "url": "https://example.com/new-arrivals",
            },
            "timing": {"kind": "day_offset", "day": 2, "time": "10:00"},
            "window_start": "09:00",
            "window_end": "21:00",
            "stop_on_reply": True,
        },
        {
            "content": {"kind": "text", "text": "{称呼}，{日期}{星期}好！本周会员日全场 9 折，欢迎到店～"},
            "timing": {"kind": "cron", "cron": "0 10 * * 1"},
            "window_start": "09:00",
            "window_end": "21:00",
            "missed": "skip",
        },
    ],
}


async def ensure_demo_sop(session: AsyncSession, *, manager: User) -> None:
    """Create the demo SOP draft once per organisation."""
    exists = await session.scalar(select(Sop.id).where(Sop.organization_id == manager.organization_id).limit(1))
    if exists is None:
        await create_sop(session, user=manager, body=SopIn.model_validate(DEMO_SOP))
