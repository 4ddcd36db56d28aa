"""Structured output: the response_format to ask for, parsing the answer, and the repair prompt."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from backend.llm.presets import StructuredMode
from backend.llm.types import Message

FENCE = re.compile(r"^\s*```(?:json)?\s*(?P<body>.*?)\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class OutputSpec:
    """What shape the caller wants back: a pydantic model and/or a JSON schema."""

    schema: dict[str, Any]
    name: str
    model: type[BaseModel] | None = None

    @classmethod
    def build(cls, response_model: type[BaseModel] | None, json_schema: dict[str, Any] | None) -> OutputSpec | None:
        """A spec from the chat() arguments, None for free text."""
        if response_model is not None:
            return cls(response_model.model_json_schema(), response_model.__name__, response_model)
        if json_schema is not None:
            return cls(json_schema, str(json_schema.get("title") or "answer"))
        return None

    def response_format(self, mode: StructuredMode) -> dict[str, Any]:
        """The OpenAI `response_format` for a provider that supports json_schema or only JSON mode."""
        if mode == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", self.name)[:64] or "answer"
            return {"type": "json_schema", "json_schema": {"name": name, "schema": self.schema}}
        return {"type": "json_object"}

    def instruction(self) -> Message:
        """A system message stating the schema (JSON mode needs it; the word JSON must appear)."""
        return {
            "role": "system",
            "content": "Reply with one JSON object only, no prose, matching this JSON schema:\n"
            + json.dumps(self.schema, ensure_ascii=False),
        }

    def parse(self, text: str) -> Any:
        """The answer as the pydantic model (or plain JSON); raises ValueError with a readable reason."""
        match = FENCE.match(text)
        body = match.group("body") if match else text.strip()
        if self.model is not None:
            try:
                return self.model.model_validate_json(body)
            except ValidationError as exc:
                raise ValueError(str(exc)) from exc
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from exc

    def repair_messages(self, messages: list[Message], text: str, error: str) -> list[Message]:
        """The conversation extended with the bad answer and the validation error, asking for a fix."""
        return [
            *messages,
            {"role": "assistant", "content": text},
            {
                "role": "user",
                "content": "Your previous answer did not match the required JSON schema. Error:\n"
                f"{error}\nReply again with only the corrected JSON object.",
            },
        ]

    def skeleton(self) -> str:
        """A minimal JSON document satisfying the schema (what the offline provider answers)."""
        return json.dumps(_skeleton(self.schema, self.schema.get("$defs", {})), ensure_ascii=False)


def _skeleton(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _skeleton(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _skeleton(schema[key][0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object" or "properties" in schema:
        required = schema.get("required", list(schema.get("properties", {})))
        return {
            name: _skeleton(schema["properties"][name], defs)
            for name in required
            if name in schema.get("properties", {})
        }
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False, "null": None}.get(str(kind))
