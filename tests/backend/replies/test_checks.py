"""Reply checks: discounts beyond policy, banned words, length, unsure answers."""

from __future__ import annotations

import pytest

from backend.conversations.policy import Policy
from backend.replies.checks import UNSURE_MARKER, promised_discount_percent, run_checks, trim_to_length


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("现在全场 8 折", 20),
        ("会员 8.5折", 15),
        ("限时5折起", 50),
        ("满300减30", 0),
        ("今天优惠40%", 40),
        ("这单给您免单", 100),
        ("2025年10月折扣", 0),
        ("没有折扣", 0),
    ],
)
def test_promised_discount_percent(text: str, percent: float) -> None:
    assert promised_discount_percent(text) == percent


def _failed(draft: str, **policy: object) -> list[str]:
    _, results = run_checks(draft, Policy.model_validate(policy))
    return [r.name for r in results if not r.passed]


def test_a_grounded_answer_passes_every_check() -> None:
    assert _failed("卫衣 199 元，有 XL 码。") == []


def test_a_discount_deeper_than_policy_is_blocked() -> None:
    assert _failed("给您打 5 折吧", max_discount_percent=20) == ["discount_policy"]


def test_a_banned_word_is_blocked() -> None:
    assert _failed("这款面膜保证治愈痘痘") == ["banned_words"]


def test_the_unsure_marker_fails_confidence_and_is_never_sent() -> None:
    text, results = run_checks(f"这个我需要确认一下 {UNSURE_MARKER}", Policy())
    assert UNSURE_MARKER not in text
    assert [r.name for r in results if not r.passed] == ["confident"]


def test_long_answers_are_cut_at_a_sentence_end() -> None:
    assert trim_to_length("第一句。" * 10 + "第二句很长很长", 25) == "第一句。" * 6
