"""Keyword routing: a question about a coupon metric is a report, a request for coupons is a plan."""

from __future__ import annotations

import pytest

from backend.agent.nodes.route import keyword_intent


@pytest.mark.parametrize("question", ["最近7天各门店优惠券核销率", "最近7天各门店券核销率", "本月优惠券发放数量"])
def test_coupon_metric_questions_are_reports(question: str) -> None:
    assert keyword_intent(question, has_plan=False) == "report"


def test_asking_for_a_coupon_campaign_is_a_plan() -> None:
    assert keyword_intent("给老客发一张优惠券", has_plan=False) == "plan"
