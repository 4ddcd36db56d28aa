"""Exact cost arithmetic: cached tokens at their own rate, tiers by prompt length, 1e-8 CNY quantum."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from backend.cost.models import Price
from backend.cost.pricing import compute_cost


def price(**overrides: object) -> Price:
    values: dict[str, object] = {
        "provider": "qwen",
        "model": "qwen-plus",
        "effective_from": datetime(2025, 1, 1, tzinfo=UTC),
        "input_per_million": Decimal("0.8"),
        "cached_input_per_million": Decimal("0.16"),
        "output_per_million": Decimal("2"),
        **overrides,
    }
    return Price(**values)


def test_cached_tokens_are_charged_at_the_cached_rate() -> None:
    cost = compute_cost(price(), input_tokens=3, cached_input_tokens=1, output_tokens=7)
    assert cost == Decimal("0.00001576")  # (2 x 0.8 + 1 x 0.16 + 7 x 2) / 1M


def test_cost_is_rounded_to_a_hundred_millionth_of_a_yuan() -> None:
    cost = compute_cost(
        price(input_per_million=Decimal("0.123456")), input_tokens=1, cached_input_tokens=0, output_tokens=0
    )
    assert cost == Decimal("0.00000012")


def test_a_long_prompt_uses_its_tier() -> None:
    tiers = [
        {"max_input_tokens": 131072, "input": "0.8", "cached_input": "0.16", "output": "2"},
        {"max_input_tokens": 262144, "input": "2.4", "cached_input": "0.48", "output": "20"},
    ]
    cost = compute_cost(price(tiers=tiers), input_tokens=200_000, cached_input_tokens=0, output_tokens=1000)
    assert cost == Decimal("0.5")  # 200000 x 2.4 + 1000 x 20 per 1M


def test_no_price_costs_nothing() -> None:
    assert compute_cost(None, input_tokens=10, cached_input_tokens=0, output_tokens=10) == 0
