"""Budget alert webhooks: POSTed in the background with retries; failures are logged, never raised."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

logger = logging.getLogger(__name__)


async def deliver(
    url: str, payload: dict[str, Any], *, attempts: int = 3, request_timeout: float = 5.0, backoff: float = 0.5
) -> bool:
    """POST the payload as JSON until a 2xx answer or the attempts run out; True when delivered."""
    async with httpx.AsyncClient(timeout=request_timeout) as http:
        for attempt in range(1, attempts + 1):
            try:
                response = await http.post(url, json=payload)
                if response.is_success:
                    return True
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt < attempts:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
    logger.warning("budget webhook failed", extra={"url": url, "attempts": attempts, "reason": reason})
    return False
