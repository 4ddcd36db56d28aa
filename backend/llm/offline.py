"""Offline answers: deterministic rules in Chinese for the demo and tests, with estimated token counts."""

from __future__ import annotations

import math
import re

from backend.llm.types import Message, Usage

GREETING = "您好！我是您的专属顾问，请问有什么可以帮您？"
HANDOFF = "好的，已为您转接人工客服，请稍候，马上有同事为您服务。"
PRICE = "感谢关注！具体价格以规格和数量为准，您告诉我想要的款式和数量，我马上为您报价。"
DELIVERY = "一般下单后 48 小时内发货，快递 2-4 天送达，偏远地区稍慢，发货后会把物流单号发给您。"
DISCOUNT = "现在有会员专享优惠，新客首单还有优惠券，需要的话我马上发给您。"
FALLBACK = "收到您的消息，我先记录下来，稍后为您详细解答；如需人工服务请回复“人工”。"

RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("人工", "投诉", "退款", "真人", "客服"), HANDOFF),
    (("多少钱", "价格", "价钱", "报价", "怎么卖", "price"), PRICE),
    (("发货", "快递", "物流", "配送", "几天到", "到货", "delivery", "shipping"), DELIVERY),
    (("优惠", "折扣", "打折", "便宜", "活动", "优惠券", "discount", "coupon"), DISCOUNT),
    (("你好", "您好", "在吗", "hello", "hi"), GREETING),
)
KNOWLEDGE_HINTS = ("知识", "资料", "参考", "knowledge", "context")
SNIPPET_LINE = re.compile(r"^\s*(?:[-*•]|\[\d+\]|\d+[.、)]|【[^】]*】)\s*(?P<text>.+)$")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
WORD = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
MIN_SNIPPET_SCORE = 0.2


def estimate_tokens(text: str) -> int:
    """Rough token count: one per CJK character, about 4/3 per other word or symbol (0.75 words a token)."""
    cjk = len(CJK.findall(text))
    words = len(WORD.findall(text))
    return cjk + math.ceil(words / 0.75)


def knowledge_snippets(messages: list[Message]) -> list[str]:
    """List items of system messages that carry knowledge (a hint word, then `- ...`, `[1] ...` lines)."""
    snippets: list[str] = []
    for message in messages:
        content = message.get("content", "")
        if message.get("role") != "system" or not any(hint in content.lower() for hint in KNOWLEDGE_HINTS):
            continue
        for line in content.splitlines():
            match = SNIPPET_LINE.match(line)
            if match:
                snippets.append(match.group("text").strip())
    return snippets


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+", "", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)} or ({compact} if compact else set())


def best_snippet(question: str, snippets: list[str]) -> str | None:
    """The snippet sharing the most character bigrams with the question, if it shares enough."""
    asked = _bigrams(question)
    if not asked:
        return None
    scored = [(len(asked & _bigrams(snippet)) / len(asked), -index, snippet) for index, snippet in enumerate(snippets)]
    if not scored:
        return None
    score, _, snippet = max(scored)
    return snippet if score >= MIN_SNIPPET_SCORE else None


def answer(messages: list[Message]) -> str:
    """The rule-based reply to the last user message."""
    question = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    lowered = question.lower()
    if any(word in lowered for word in RULES[0][0]):
        return HANDOFF
    snippet = best_snippet(question, knowledge_snippets(messages))
    if snippet:
        return f"根据我们的资料：{snippet}"
    for words, reply in RULES[1:]:
        if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", lowered) for w in words):
            return reply
    return FALLBACK


def usage_of(messages: list[Message], reply: str) -> Usage:
    """Estimated usage of an offline answer (4 tokens of framing per message, as chat APIs count)."""
    prompt = sum(estimate_tokens(m.get("content", "")) + 4 for m in messages)
    return Usage(input_tokens=prompt, cached_input_tokens=0, output_tokens=estimate_tokens(reply))
