"""GeWe CreateTime to a message time: exact for real seconds, now for values no clock can show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.core.db import utcnow
from backend.messages.service import epoch_to_datetime


def test_create_time_in_seconds_is_exact() -> None:
    assert epoch_to_datetime(1705043418) == datetime(2024, 1, 12, 7, 10, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    "create_time",
    [None, 0, 1705043418000, 10**30, -(10**12)],
    ids=["missing", "zero", "milliseconds", "huge", "far-past"],
)
def test_create_time_no_clock_can_show_is_now_instead_of_failing_the_message(create_time: int | None) -> None:
    # A callback with CreateTime in milliseconds (year 56000) or past 2**63 failed processing with
    # ValueError/OverflowError on every attempt, so the customer's message was never stored.
    assert abs(epoch_to_datetime(create_time) - utcnow()) < timedelta(seconds=5)
