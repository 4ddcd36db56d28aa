"""Checks an AI draft must pass before it is sent as the account (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backend.conversations.policy import Policy

UNSURE_MARKER = "[[HANDOFF]]"
# Phrases the offline provider and well-behaved models use when they have nothing grounded to say.
UNSURE_PHRASES = ("稍后为您详细解答", "我不确定", "无法回答", "暂时无法确认")
DISCOUNT_ZHE = re.compile(r"(?<![\d.])(\d(?:\.\d)?)\s*折")
DISCOUNT_PERCENT = re.compile(r"(?:优惠|减|降|省|off)\s*(\d{1,3})\s*%|(\d{1,3})\s*%\s*(?:off|优惠|折扣)", re.IGNORECASE)
FREE_GIFTS = ("免单", "白送", "全额返", "不要钱")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict, shown in the decision record."""

    name: str
    passed: bool
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON form for the decision record."""
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


def promised_discount_percent(text: str) -> float:
    """The deepest discount (percent off) the text promises: "7折" is 30, "优惠40%" is 40, 0 when none."""
    deepest = 0.0
    for match in DISCOUNT_ZHE.finditer(text):
        value = float(match.group(1))
        # "8折" means pay 80%; "8.5折" 85%; a bare "0折" is nonsense and ignored.
        if 0 < value < 10:
            deepest = max(deepest, 100 - value * 10)
    for match in DISCOUNT_PERCENT.finditer(text):
        value = float(match.group(1) or match.group(2))
        if 0 < value <= 100:
            deepest = max(deepest, value)
    if any(word in text for word in FREE_GIFTS):
        deepest = 100.0
    return deepest


def trim_to_length(text: str, limit: int) -> str:
    """The text cut at the last sentence end within `limit` characters (or hard-cut with an ellipsis)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(mark) for mark in "。！？!?\n")
    return head[: cut + 1] if cut >= limit // 2 else head[: limit - 1] + "…"


def run_checks(draft: str, policy: Policy) -> tuple[str, list[CheckResult]]:
    """The draft as it may be sent (trimmed) and every check's verdict; send only when all passed."""
    results: list[CheckResult] = []
    text = draft.replace(UNSURE_MARKER, "").strip()
    results.append(CheckResult("not_empty", bool(text), "" if text else "the model returned nothing"))
    trimmed = trim_to_length(text, policy.max_reply_chars)
    results.append(
        CheckResult(
            "length",
            True,
            f"{len(text)} chars" + (f", trimmed to {len(trimmed)}" if trimmed != text else ""),
        )
    )
    banned = [word for word in policy.banned_words if word and word in trimmed]
    results.append(CheckResult("banned_words", not banned, "、".join(banned)))
    discount = promised_discount_percent(trimmed)
    allowed = discount <= policy.max_discount_percent
    results.append(
        CheckResult(
            "discount_policy",
            allowed,
            f"promises {discount:g}% off, policy allows {policy.max_discount_percent:g}%" if discount else "",
        )
    )
    unsure = UNSURE_MARKER in draft or any(phrase in draft for phrase in UNSURE_PHRASES)
    results.append(CheckResult("confident", not unsure, "the model is not sure" if unsure else ""))
    return trimmed, results
