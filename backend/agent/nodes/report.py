"""compose_report: the table, totals and definitions (口径) of a report question."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from backend.agent.runtime import timed
from backend.agent.state import AgentState


def _total(rows: list[dict[str, Any]], column: str) -> float:
    return sum(float(row.get(column) or 0) for row in rows)


@timed("compose_report")
async def compose_report(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Answer with the rows of the first query and a short summary computed from them."""
    query = state["queries"][0]
    if "rows" not in query:
        reason = query.get("error") or state.get("sql_final_error") or "查询未能执行"
        return {"answer": f"抱歉，这个报表没有查出来：{reason}", "report": None}
    rows = query["rows"]
    columns = query.get("columns", [])
    lines = [f"共 {len(rows)} 行数据。"]
    if "gmv" in columns and "orders" in columns and "period" not in columns:
        gmv, orders = _total(rows, "gmv"), _total(rows, "orders")
        aov = gmv / orders if orders else 0.0
        lines.append(f"合计：GMV {gmv:,.2f} 元，订单数 {int(orders)} 笔，整体客单价 {aov:,.2f} 元。")
    definitions = query.get("definitions", [])
    if definitions:
        lines.append("口径：" + "；".join(definitions))
    report = {"columns": columns, "labels": query.get("labels", {}), "rows": rows, "definitions": definitions}
    return {"answer": "\n".join(lines), "report": report}
