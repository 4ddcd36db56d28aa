"""Diagnosis claims: only claims that point at rows or chunks in state survive."""

from __future__ import annotations

from backend.agent.nodes.diagnose import claim, render, validate_claims
from backend.agent.state import AgentState

STATE: AgentState = {
    "queries": [{"id": "q1", "rows": [{"period": "本期", "repeat_rate": 0.2}]}, {"id": "empty", "rows": []}],
    "knowledge": [{"ref": "kb:7", "title": "t", "content": "c", "tags": ["diagnosis"]}],
}


def test_claims_citing_state_are_kept() -> None:
    claims = [claim("发现", "a", "data", ["q1"]), claim("原因假设", "b", "kb", ["kb:7"])]
    accepted, rejected = validate_claims(claims, STATE)
    assert (accepted, rejected) == (claims, [])


def test_claim_citing_nothing_is_rejected() -> None:
    _, rejected = validate_claims([claim("发现", "made up", "data", [])], STATE)
    assert len(rejected) == 1


def test_claim_citing_an_unknown_chunk_or_an_empty_query_is_rejected() -> None:
    claims = [claim("原因假设", "x", "kb", ["kb:99"]), claim("发现", "y", "data", ["empty"])]
    accepted, _ = validate_claims(claims, STATE)
    assert accepted == []


def test_data_claim_must_cite_a_query_not_only_a_chunk() -> None:
    accepted, _ = validate_claims([claim("验证", "z", "data", ["kb:7"])], STATE)
    assert accepted == []


def test_answer_has_four_parts_and_tags_each_claim() -> None:
    text = render([claim("发现", "复购率下降", "data", ["q1"])])
    assert text.splitlines() == [
        "1. 发现",
        "- 复购率下降 (data) [q1]",
        "2. 原因假设",
        "- 暂无",
        "3. 验证",
        "- 暂无",
        "4. 下一步",
        "- 暂无",
    ]
