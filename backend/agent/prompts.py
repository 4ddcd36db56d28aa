"""Prompts of the agent's LLM calls (Chinese, as the managers ask in Chinese)."""

from __future__ import annotations

ROUTE_SYSTEM = (
    "你是门店经营助手的意图分类器。只能输出一个小写单词：report / diagnose / plan / execute。\n"
    "report: 要报表、趋势、GMV、订单数、客单价等数字；diagnose: 问指标为什么下降/异常、要原因；"
    "plan: 要策划活动、优惠券、预算方案；execute: 要执行/上架/发布已有方案。"
)

SQL_SYSTEM = (
    "你是 PostgreSQL 报表 SQL 生成器。只允许一条 SELECT（可用 WITH），只查询 retail schema 下的表，"
    "表名必须写成 retail.<表名>。不要解释，不要 markdown，不要代码块，只输出 SQL。\n"
    "{grounding}\n"
    "数据最新日期（今天）为 {anchor}。时间窗口用 paid_at 与带时区的时间戳比较。"
)

SQL_SUGGESTION = "参考（语义层为该问题生成的标准 SQL，可直接使用或在其基础上修改）：\n{sql}"

SQL_RETRY = "上一条 SQL 被拒绝或执行失败：{error}\n请修正后只输出新的 SQL。"
