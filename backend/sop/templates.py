"""Filling a step's text template for one target: {昵称} {备注} {称呼} {账号} {日期} {星期}."""

from __future__ import annotations

import re
from datetime import datetime

WEEKDAYS = "一二三四五六日"
_VARIABLE = re.compile(r"\{(昵称|备注|称呼|账号|日期|星期)\}")


def render(template: str, *, nickname: str, remark: str, account_name: str, at: datetime) -> str:
    """The template with its variables replaced; unknown braces are left as written."""
    values = {
        "昵称": nickname or remark or "朋友",
        "备注": remark or nickname or "朋友",
        "称呼": remark or nickname or "朋友",
        "账号": account_name,
        "日期": f"{at.month}月{at.day}日",
        "星期": "星期" + WEEKDAYS[at.weekday()],
    }
    return _VARIABLE.sub(lambda match: values[match.group(1)], template)
