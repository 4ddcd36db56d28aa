"""The agent graph: route_intent -> report | diagnose | plan | execute (LangGraph StateGraph, async nodes)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from backend.agent.nodes.diagnose import compose_diagnosis
from backend.agent.nodes.execute import execute_campaign
from backend.agent.nodes.knowledge import retrieve_kb
from backend.agent.nodes.plan import gen_campaign_plan
from backend.agent.nodes.report import compose_report
from backend.agent.nodes.route import route_intent
from backend.agent.nodes.sql import after_guard, after_run, gen_sql, guard_sql, run_sql
from backend.agent.state import AgentState


def branch(state: AgentState) -> Literal["gen_sql", "retrieve_kb", "execute_campaign"]:
    """First node of the intent's branch."""
    intent = state["intent"]
    if intent in ("report", "diagnose"):
        return "gen_sql"
    return "execute_campaign" if intent == "execute" else "retrieve_kb"


def after_kb(state: AgentState) -> Literal["compose_diagnosis", "gen_campaign_plan"]:
    """Diagnoses and plans share retrieve_kb."""
    return "compose_diagnosis" if state["intent"] == "diagnose" else "gen_campaign_plan"


def build_graph() -> Any:
    """Compile the StateGraph."""
    graph = StateGraph(AgentState)
    graph.add_node("route_intent", route_intent)
    graph.add_node("gen_sql", gen_sql)
    graph.add_node("guard_sql", guard_sql)
    graph.add_node("run_sql", run_sql)
    graph.add_node("compose_report", compose_report)
    graph.add_node("retrieve_kb", retrieve_kb)
    graph.add_node("compose_diagnosis", compose_diagnosis)
    graph.add_node("gen_campaign_plan", gen_campaign_plan)
    graph.add_node("execute_campaign", execute_campaign)
    graph.add_edge(START, "route_intent")
    graph.add_conditional_edges("route_intent", branch)
    graph.add_edge("gen_sql", "guard_sql")
    graph.add_conditional_edges("guard_sql", after_guard)
    graph.add_conditional_edges("run_sql", after_run)
    graph.add_conditional_edges("retrieve_kb", after_kb)
    for last in ("compose_report", "compose_diagnosis", "gen_campaign_plan", "execute_campaign"):
        graph.add_edge(last, END)
    return graph.compile()


@lru_cache(maxsize=1)
def get_graph() -> Any:
    """The compiled graph (built once per process)."""
    return build_graph()
