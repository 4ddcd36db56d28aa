"""Stopping background tasks without losing a cancel meant for the one stopping them."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancel tasks and wait until they have ended; a task's own failure is raised, a cancel of the caller too.

    `with suppress(CancelledError): await task` cannot tell the task's cancellation from the caller's, so a
    shutdown timeout around the caller would be swallowed and never fire.
    """
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
