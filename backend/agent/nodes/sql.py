"""gen_sql -> guard_sql -> run_sql, with up to three self-correction rounds for LLM-written SQL."""

from __future__ import annotations

import re
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from backend.agent import semantic
from backend.agent.executor import QueryFailed, run_readonly
from backend.agent.prompts import SQL_RETRY, SQL_SUGGESTION, SQL_SYSTEM
from backend.agent.rollups import NO_ROLLUPS, RollupStatus, data_state
from backend.agent.runtime import MAX_SQL_ATTEMPTS, deps_of, timed
from backend.agent.sql_guard import SqlRejected
from backend.agent.sql_guard import guard_sql as check_sql
from backend.agent.state import AgentState, Query
from backend.llm import LLMError


def semantic_queries(question: str, intent: str, anchor: Any, rollups: RollupStatus = NO_ROLLUPS) -> list[Query]:
    """Exact SQL from the semantic layer: the question's metrics, plus the verification checks of a diagnosis."""
    spec = semantic.parse_question(question)
    if intent == "diagnose":
        spec.compare = "环比"
        if not any(word in question for word in ("按天", "趋势", "每天")) and "day" in spec.dimensions:
            spec.dimensions.remove("day")
    compiled = semantic.compile_query(spec, anchor, rollups=rollups)
    queries: list[Query] = [_query("q1", "问题中的指标", "semantic", compiled)]
    if intent == "diagnose":
        window = compiled.time_range
        checks = [
            ("segment", "老客/新客 订单数、下单人数、客单价 本期 vs 上期", None),
            (
                "store_pay",
                "各门店支付成功率 本期 vs 上期",
                semantic.QuerySpec(["pay_success_rate", "orders"], ["store"]),
            ),
            ("channel", "各渠道订单数 本期 vs 上期", semantic.QuerySpec(["orders"], ["channel"])),
            ("discount", "优惠率与客单价 本期 vs 上期", semantic.QuerySpec(["discount_rate", "aov"])),
        ]
        for query_id, purpose, check in checks:
            if check is None:
                queries.append(
                    {
                        "id": query_id,
                        "purpose": purpose,
                        "source": "semantic",
                        "sql": semantic.segment_query(window),
                        "sources": ["retail.orders"],
                        "labels": {
                            "period": "周期",
                            "customer_type": "客户类型",
                            "orders": "订单数",
                            "buyers": "下单人数",
                            "aov": "客单价",
                        },
                        "definitions": [
                            "老客 = 本期开始前已有 >= 2 笔支付成功订单的会员；新客 = 本期开始前没有支付成功订单的会员"
                        ],
                    }
                )
                continue
            check.range_text, check.compare = spec.range_text, "环比"
            queries.append(
                _query(query_id, purpose, "semantic", semantic.compile_query(check, anchor, rollups=rollups))
            )
    return queries


def _query(query_id: str, purpose: str, source: str, compiled: semantic.CompiledQuery) -> Query:
    window = compiled.time_range
    return {
        "id": query_id,
        "purpose": purpose,
        "source": source,
        "sql": compiled.sql,
        "sources": compiled.sources,
        "labels": compiled.labels,
        "definitions": [
            *compiled.definitions,
            f"时间范围: {window.label} [{window.start.date()} ~ {(window.end).date()})，北京时间",
        ],
    }


def _clean_sql(text: str) -> str:
    """Strip code fences an LLM may add despite the prompt."""
    match = re.search(r"```(?:sql)?\s*(.*?)```", text, flags=re.S | re.I)
    return (match.group(1) if match else text).strip()


@timed("gen_sql")
async def gen_sql(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Produce the turn's SQL: semantic layer offline; the LLM (grounded by the semantic SQL) when configured."""
    deps = deps_of(config)
    attempts = state.get("attempts", 0) + 1
    data = await data_state(deps.engine)
    anchor = data.anchor
    planned = semantic_queries(state["user_query"], state["intent"], anchor, data.rollups)
    queries = state.get("queries") or planned
    sources = {q["id"]: q.get("sources", []) for q in queries}
    update: dict[str, Any] = {
        "attempts": attempts,
        "sql_error": None,
        "debug": {"anchor": anchor.isoformat(), "sources": sources},
    }
    if deps.llm is None:
        update["queries"] = queries
        return update
    primary: dict[str, Any] = dict(queries[0])
    suggestion = planned[0]["sql"]
    messages = [
        {"role": "system", "content": SQL_SYSTEM.format(grounding=semantic.grounding(), anchor=anchor.isoformat())},
        {"role": "user", "content": state["user_query"] + "\n" + SQL_SUGGESTION.format(sql=suggestion)},
    ]
    if state.get("sql_error"):
        messages.append({"role": "assistant", "content": primary.get("sql", "")})
        messages.append({"role": "user", "content": SQL_RETRY.format(error=state["sql_error"])})
    try:
        reply = await deps.llm.complete(messages, purpose="agent_sql")
    except LLMError as exc:
        update["queries"] = queries
        update["debug"] = {**update["debug"], "gen_sql_llm_error": exc.message}
        return update
    primary.update({"source": "llm", "sql": _clean_sql(reply.text), "purpose": "LLM 生成的 SQL"})
    for key in ("final_sql", "guard", "rows", "columns", "error", "sources"):
        primary.pop(key, None)
    update["queries"] = [primary, *queries[1:]]
    update["debug"] = {**update["debug"], "sources": {**sources, primary["id"]: ["llm"]}}
    update["llm_calls"] = [reply.record(f"gen_sql#{attempts}")]
    return update


@timed("guard_sql")
async def guard_sql(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Check every query not yet accepted; a rejected LLM query goes back to gen_sql with the reason."""
    deps = deps_of(config)
    queries: list[Query] = []
    error: str | None = None
    final_error: str | None = None
    for query in state["queries"]:
        query = Query(**query)
        if "final_sql" not in query:
            try:
                verdict = check_sql(query["sql"], max_rows=deps.max_rows)
                query["final_sql"] = verdict.sql
                query["guard"] = verdict.debug()
            except SqlRejected as exc:
                query["guard"] = {"passed": False, "code": exc.code, "reason": exc.message}
                if query["source"] == "llm" and state.get("attempts", 0) < MAX_SQL_ATTEMPTS:
                    error = f"[{exc.code}] {exc.message}"
                else:
                    query["error"] = exc.message
                    final_error = final_error or exc.message
        queries.append(query)
    guards = {q["id"]: q.get("guard") for q in queries}
    return {"queries": queries, "sql_error": error, "sql_final_error": final_error, "debug": {"guard": guards}}


@timed("run_sql")
async def run_sql(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Execute accepted queries on the read-only role; database errors of LLM SQL are fed back once more."""
    deps = deps_of(config)
    queries: list[Query] = []
    error: str | None = None
    final_error = state.get("sql_final_error")
    for query in state["queries"]:
        query = Query(**query)
        if "final_sql" in query and "rows" not in query and "error" not in query:
            try:
                result = await run_readonly(
                    deps.engine, query["final_sql"], timeout_ms=deps.timeout_ms, max_rows=deps.max_rows
                )
                query["rows"], query["columns"] = result.rows, result.columns
            except QueryFailed as exc:
                retry = query["source"] == "llm" and not exc.timeout and state.get("attempts", 0) < MAX_SQL_ATTEMPTS
                if retry:
                    error = f"[database_error] {exc}"
                    query.pop("final_sql")
                else:
                    query["error"] = "查询超时（已终止，不再重试）" if exc.timeout else str(exc)
                    final_error = final_error or query["error"]
        queries.append(query)
    sql = {q["id"]: q.get("final_sql") for q in queries}
    return {"queries": queries, "sql_error": error, "sql_final_error": final_error, "debug": {"sql": sql}}


def after_guard(state: AgentState) -> Literal["gen_sql", "run_sql"]:
    """Retry generation on a correctable rejection, else execute."""
    return "gen_sql" if state.get("sql_error") else "run_sql"


def after_run(state: AgentState) -> Literal["gen_sql", "compose_report", "retrieve_kb"]:
    """Retry generation on a correctable database error, else continue the branch."""
    if state.get("sql_error"):
        return "gen_sql"
    return "compose_report" if state["intent"] == "report" else "retrieve_kb"
