"""retrieve_kb: hybrid retrieval of knowledge chunks for diagnoses and plans."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from backend.agent import kb
from backend.agent.runtime import deps_of, timed
from backend.agent.state import AgentState

TAGS = {"diagnose": ["diagnosis", "metric"], "plan": ["campaign", "risk"]}
EXPANSION = {"diagnose": " 可能原因 如何验证", "plan": " 活动玩法 风险控制 预算"}


@timed("retrieve_kb")
async def retrieve_kb(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Top chunks for the question, restricted to the tags of the branch."""
    deps = deps_of(config)
    intent = state["intent"]
    query = state["user_query"] + EXPANSION.get(intent, "")
    hits = await kb.retrieve(
        deps.engine, deps.embedder, query, k=8 if intent == "diagnose" else 6, tags=TAGS.get(intent)
    )
    knowledge = [hit.as_dict() for hit in hits]
    retrieval = [{"ref": k["ref"], "title": k["title"], "score": k["score"]} for k in knowledge]
    return {"knowledge": knowledge, "debug": {"retrieval": retrieval, "embedder": deps.embedder.name}}
