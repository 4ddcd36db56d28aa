"""Template variables."""

from __future__ import annotations

from datetime import datetime

from backend.sop.templates import render


def test_render_fills_every_known_variable() -> None:
    text = render(
        "{称呼}您好，{日期}{星期}，{账号}为您准备了礼物（{昵称}/{备注}）",
        nickname="小王",
        remark="王女士",
        account_name="李销售",
        at=datetime(2026, 3, 2, 10, 0),
    )
    assert text == "王女士您好，3月2日星期一，李销售为您准备了礼物（小王/王女士）"


def test_render_leaves_unknown_braces_as_written() -> None:
    assert (
        render("{优惠码} {昵称}", nickname="", remark="", account_name="", at=datetime(2026, 3, 2)) == "{优惠码} 朋友"
    )
