"""Request value types PostgreSQL can always store or compare: text without NUL, instants within range.

Most routes can rely on the error handlers (a value the database refuses becomes a 422); use these where the
query runs after the response has started (streamed responses) or where a precise field error is wanted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def no_nul(value: str) -> str:
    """The text unchanged, or a validation error when it holds a NUL character (PostgreSQL text cannot)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
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
