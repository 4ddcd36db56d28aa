"""Campaign plans: budget and duration read from the question, defaults 30000 yuan and 7 days."""

from __future__ import annotations

import pytest

from backend.agent.nodes.plan import parse_budget, parse_duration


@pytest.mark.parametrize(
    ("question", "budget"),
    [
        ("预算3万，7天", 30000),
        ("预算 5000 元", 5000),
        ("预算两万做个活动", 20000),
        ("花费8千", 8000),
        ("1.5万的预算", 15000),
        ("做个活动", 30000),
    ],
)
def test_budget_is_parsed_in_yuan(question: str, budget: float) -> None:
    assert parse_budget(question) == budget


@pytest.mark.parametrize(
    ("question", "days"),
    [("预算3万，7天", 7), ("两周的活动", 14), ("一个月", 30), ("做10天", 10), ("做个活动", 7)],
)
def test_duration_is_parsed_in_days(question: str, days: int) -> None:
    assert parse_duration(question) == days
