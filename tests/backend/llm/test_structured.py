"""Structured output helpers: parsing (with code fences), repair prompt, schema skeletons."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from backend.llm.structured import OutputSpec


class Plan(BaseModel):
    kind: Literal["coupon", "broadcast"]
    budget: float
    tags: list[str]
    note: str | None = None


SPEC = OutputSpec.build(Plan, None)


def test_parse_accepts_a_fenced_json_answer() -> None:
    assert SPEC is not None
    assert SPEC.parse('```json\n{"kind": "coupon", "budget": 10, "tags": []}\n```') == Plan(
        kind="coupon", budget=10, tags=[]
    )


def test_parse_failure_names_the_missing_field() -> None:
    assert SPEC is not None
    with pytest.raises(ValueError, match="budget"):
        SPEC.parse('{"kind": "coupon", "tags": []}')


def test_skeleton_satisfies_the_schema() -> None:
    assert SPEC is not None
    assert SPEC.parse(SPEC.skeleton()) == Plan(kind="coupon", budget=0, tags=[])


def test_plain_json_schema_parses_to_a_dict() -> None:
    spec = OutputSpec.build(None, {"title": "intent", "type": "object", "properties": {"x": {"type": "integer"}}})
    assert spec is not None
    assert spec.parse('{"x": 1}') == {"x": 1}
    assert spec.response_format("json_schema")["json_schema"]["name"] == "intent"
