"""Request value types PostgreSQL can always store or compare: text without NUL, instants within range.

Every free-text field of a request (body, query or path) is a `Text`, every instant an `Instant`, so bad input
gets a precise field error. The error handlers that turn a value PostgreSQL refuses into a 422 stay as a safety
net, not as the check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator


def no_nul(value: str) -> str:
    """The text unchanged, or a validation error when it holds a NUL character (PostgreSQL text cannot)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


def no_nul_anywhere(value: Any) -> Any:
    """A JSON value unchanged, or a validation error when a key or string inside it holds a NUL (jsonb cannot)."""
    if isinstance(value, str):
        no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            no_nul_anywhere(key)
            no_nul_anywhere(item)
    elif isinstance(value, list):
        for item in value:
            no_nul_anywhere(item)
    return value


def storable_instant(value: datetime) -> datetime:
    """The instant unchanged, or a validation error when it has no UTC equivalent (e.g. 0001-01-01T00:00+05:00)."""
    try:
        value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("is out of the supported date range") from exc
    return value


Text = Annotated[str, AfterValidator(no_nul)]
Instant = Annotated[datetime, AfterValidator(storable_instant)]
