"""Offline provider rules: polite Chinese answers by keyword, knowledge snippets, token estimates."""

from __future__ import annotations

import pytest

from backend.llm import offline


def ask(text: str, system: str | None = None) -> str:
    messages = [{"role": "system", "content": system}] if system else []
    return offline.answer([*messages, {"role": "user", "content": text}])


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("你好", offline.GREETING),
        ("我要投诉，找人工", offline.HANDOFF),
        ("这个多少钱", offline.PRICE),
        ("什么时候发货", offline.DELIVERY),
        ("有没有优惠券", offline.DISCOUNT),
        ("今天天气怎么样", offline.FALLBACK),
    ],
)
def test_keywords_pick_the_polite_answer(question: str, reply: str) -> None:
    assert ask(question) == reply


def test_handoff_wins_over_other_keywords() -> None:
    assert ask("你好，退款多少钱") == offline.HANDOFF


def test_best_matching_knowledge_snippet_answers_the_question() -> None:
    system = "你是销售助理。知识库：\n- 退换货：签收后 7 天内可无理由退换\n- 会员积分：每消费 1 元积 1 分，可抵现"
    assert ask("会员积分怎么算？", system) == "根据我们的资料：会员积分：每消费 1 元积 1 分，可抵现"


def test_unrelated_snippets_are_not_used() -> None:
    system = "参考资料：\n[1] 门店营业时间：每天 9:00-21:00"
    assert ask("什么时候发货", system) == offline.DELIVERY


def test_token_estimate_counts_cjk_characters_and_words() -> None:
    assert offline.estimate_tokens("你好世界") == 4
    assert offline.estimate_tokens("hello big world") == 4  # 3 words / 0.75
