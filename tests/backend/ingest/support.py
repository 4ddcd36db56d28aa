"""Helpers of the ingest tests: callbacks stored in the inbox without processing them."""

from __future__ import annotations

from backend.accounts.models import Account
from backend.config import Settings
from backend.core.db import Database
from backend.ingest.runtime import ChannelRuntime


async def accept_only(settings: Settings, db: Database, account: Account, bodies: list[bytes]) -> list[int]:
    """Store callbacks as the endpoint does, processing none of them; the inbox ids of the accepted ones."""
    intake = ChannelRuntime(settings, db)  # never started: accepts, processes nothing
    try:
        results = [await intake.accept(account.callback_secret, body) for body in bodies]
    finally:
        await intake.stop()
    return [result.entry_id for result in results if result.entry_id is not None]
