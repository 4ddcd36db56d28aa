"""compose_diagnosis: 发现 / 原因假设 / 验证 / 下一步, every claim tagged (data) or (kb) and traceable."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.runnables import RunnableConfig

from backend.agent.runtime import timed
from backend.agent.semantic import DIMENSIONS, METRICS
from backend.agent.state import AgentState, Query

SECTIONS = ("发现", "原因假设", "验证", "下一步")
# Which verification query tests which hypothesis (matched on the KB section title).
HYPOTHESES = (
    ("老客", "returning"),
    ("支付失败", "store_pay"),
    ("新客", "new"),
    ("外卖", "channel"),
    ("优惠券", "discount"),
    ("触达", None),
    ("供给", None),
)
RATE_METRICS = {"repeat_rate", "pay_success_rate", "discount_rate"}


def claim(section: str, text: str, source: str, refs: list[str]) -> dict[str, Any]:
    """A statement of the answer with the state entries it rests on."""
    return {"section": section, "text": text, "source": source, "refs": refs}


def validate_claims(
    claims: list[dict[str, Any]], state: AgentState
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Keep claims whose refs all exist in state (data -> a query with rows, kb -> a retrieved chunk)."""
    data_refs = {q["id"] for q in state.get("queries", []) if q.get("rows")}
    kb_refs = {k["ref"] for k in state.get("knowledge", [])}
    accepted: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for item in claims:
        refs = item["refs"]
        own = data_refs if item["source"] == "data" else kb_refs
        ok = bool(refs) and item["source"] in ("data", "kb") and any(r in own for r in refs)
        ok = ok and all(r in data_refs or r in kb_refs for r in refs)
        (accepted if ok else rejected).append(item)
    return accepted, rejected


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "无数据"
    return f"{value * 100:.1f}%" if metric in RATE_METRICS else f"{value:,.2f}"


def _change(metric: str, current: float, previous: float) -> str:
    if metric in RATE_METRICS:
        return f"{(current - previous) * 100:+.1f} 个百分点"
    return f"{(current - previous) / previous * 100:+.1f}%" if previous else "上期为 0"


def _by_period(rows: list[dict[str, Any]], **match: Any) -> dict[str, dict[str, Any]]:
    return {r["period"]: r for r in rows if all(r.get(k) == v for k, v in match.items())}


def _findings(query: Query) -> list[dict[str, Any]]:
    rows = query.get("rows") or []
    columns = query.get("columns", [])
    metrics = [c for c in columns if c in METRICS]
    if "period" not in columns or any(c in DIMENSIONS for c in columns):
        return [claim("发现", f"查询 {query['id']} 返回 {len(rows)} 行数据，详见证据表", "data", [query["id"]])]
    periods = _by_period(rows)
    found = []
    for metric in metrics:
        cur, prev = (periods.get(p, {}).get(metric) for p in ("本期", "上期"))
        if cur is None or prev is None:
            continue
        label = METRICS[metric].label
        found.append(
            claim(
                "发现",
                f"{label}本期 {_fmt(metric, cur)}，上期 {_fmt(metric, prev)}，变化 {_change(metric, cur, prev)}",
                "data",
                [query["id"]],
            )
        )
    return found


def _verify(check: str, queries: dict[str, Query]) -> tuple[str, bool] | None:
    """(statement, supported) of one hypothesis from its verification query, None when no data."""
    if check in ("returning", "new"):
        rows = (queries.get("segment") or {}).get("rows") or []
        kind = "returning" if check == "returning" else "new"
        seg = _by_period(rows, customer_type=kind)
        cur, prev = seg.get("本期"), seg.get("上期")
        if not cur or not prev or not prev["orders"]:
            return None
        change = (cur["orders"] - prev["orders"]) / prev["orders"]
        if check == "returning":
            text = f"老客订单数本期 {cur['orders']} 笔，上期 {prev['orders']} 笔（{change * 100:+.1f}%），下单老客 {cur['buyers']} 人 vs {prev['buyers']} 人"
            return text, change <= -0.15
        ret = _by_period(rows, customer_type="returning").get("本期") or {}
        text = (
            f"新客订单数本期 {cur['orders']} 笔，上期 {prev['orders']} 笔（{change * 100:+.1f}%）；"
            f"新客客单价 {cur['aov']:.2f} 元，老客客单价 {ret.get('aov') or 0:.2f} 元"
        )
        return text, change >= 0.15 and cur["aov"] < (ret.get("aov") or 0)
    if check == "store_pay":
        rows = (queries.get("store_pay") or {}).get("rows") or []
        drops = []
        for store in sorted({r["store"] for r in rows}):
            per = _by_period(rows, store=store)
            if "本期" in per and "上期" in per:
                delta = (per["本期"]["pay_success_rate"] or 0) - (per["上期"]["pay_success_rate"] or 0)
                if delta <= -0.05:
                    drops.append(
                        f"{store} {per['上期']['pay_success_rate'] * 100:.1f}% → {per['本期']['pay_success_rate'] * 100:.1f}%"
                    )
        if not rows:
            return None
        if drops:
            return "支付成功率明显下降的门店：" + "；".join(drops), True
        return "各门店支付成功率无明显下降（均未超过 5 个百分点）", False
    if check == "channel":
        rows = (queries.get("channel") or {}).get("rows") or []
        share = {}
        for period in ("本期", "上期"):
            total = sum(r["orders"] for r in rows if r["period"] == period) or 1
            share[period] = (
                sum(r["orders"] for r in rows if r["period"] == period and r["channel"] == "delivery") / total
            )
        if not rows:
            return None
        delta = share["本期"] - share["上期"]
        return (
            f"外卖订单占比本期 {share['本期'] * 100:.1f}%，上期 {share['上期'] * 100:.1f}%（{delta * 100:+.1f} 个百分点）",
            delta >= 0.05,
        )
    if check == "discount":
        per = _by_period((queries.get("discount") or {}).get("rows") or [])
        if "本期" not in per or "上期" not in per:
            return None
        now_rate, before = float(per["本期"]["discount_rate"] or 0), float(per["上期"]["discount_rate"] or 0)
        return (
            f"优惠率本期 {now_rate * 100:.1f}%，上期 {before * 100:.1f}%（{(now_rate - before) * 100:+.1f} 个百分点）",
            before - now_rate >= 0.03,
        )
    return None


def _first_sentence(text: str) -> str:
    body = re.sub(r"\s+", "", text)
    return re.split(r"(?<=[。；])", body)[0][:80]


def build_claims(state: AgentState) -> list[dict[str, Any]]:
    """The four-part diagnosis from the queries and knowledge in state (no LLM)."""
    queries = {q["id"]: q for q in state.get("queries", [])}
    claims = _findings(queries["q1"]) if "q1" in queries and queries["q1"].get("rows") else []
    seen: set[str] = set()
    supported: list[tuple[str, str, str]] = []
    for hit in state.get("knowledge", []):
        if "diagnosis" not in hit["tags"]:
            continue
        heading = hit["title"].split(" / ")[-1]
        key = next(((word, check) for word, check in HYPOTHESES if word in heading), None)
        if key is None or key[0] in seen:
            continue
        seen.add(key[0])
        claims.append(claim("原因假设", f"{heading}：{_first_sentence(hit['content'])}", "kb", [hit["ref"]]))
        check = key[1] or ""
        verdict = _verify(check, queries) if check else None
        if verdict is None:
            claims.append(claim("验证", f"「{heading}」暂无可用数据验证，需补充相应数据后再判断", "kb", [hit["ref"]]))
            continue
        text, ok = verdict
        query_id = "segment" if check in ("returning", "new") else check
        claims.append(
            claim("验证", f"{text} —— {'支持' if ok else '不支持'}「{heading}」", "data", [query_id, hit["ref"]])
        )
        if ok:
            supported.append((heading, hit["ref"], query_id))
    for heading, ref, query_id in supported:
        hit = next(k for k in state["knowledge"] if k["ref"] == ref)
        action = re.search(r"处理：([^\n]*)", hit["content"])
        advice = action.group(1).strip() if action else "按知识库建议处理"
        claims.append(claim("下一步", f"针对「{heading}」：{advice}", "kb", [ref, query_id]))
    if supported:
        claims.append(claim("下一步", "一周后用同一口径复查复购率与上述验证指标，确认改善", "data", ["q1"]))
    return claims


def render(claims: list[dict[str, Any]]) -> str:
    """The answer text: four numbered parts, each claim with its source tag and refs."""
    parts = []
    for index, section in enumerate(SECTIONS, start=1):
        items = [c for c in claims if c["section"] == section]
        lines = [f"{index}. {section}"]
        lines += [f"- {c['text']} ({c['source']}) [{', '.join(c['refs'])}]" for c in items] or ["- 暂无"]
        parts.append("\n".join(lines))
    return "\n".join(parts)


@timed("compose_diagnosis")
async def compose_diagnosis(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Build, validate and render the diagnosis; claims citing nothing in state are dropped."""
    accepted, rejected = validate_claims(build_claims(state), state)
    if not any(c["section"] == "发现" for c in accepted):
        reason = state.get("sql_final_error") or "没有查到可比较的数据"
        answer = f"暂时无法完成诊断：{reason}\n" + render(accepted)
    else:
        answer = render(accepted)
    evidence = {
        "claims": accepted,
        "queries": [
            {k: q.get(k) for k in ("id", "purpose", "final_sql", "columns", "labels", "rows", "definitions")}
            for q in state.get("queries", [])
        ],
        "knowledge": state.get("knowledge", []),
    }
    return {"answer": answer, "evidence": evidence, "debug": {"rejected_claims": rejected}}
