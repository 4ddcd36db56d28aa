"""The agent's view of the LLM: a small interface, backed by the platform gateway (origin `agent`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from backend.llm import CallContext, LLMGateway


@dataclass
class LLMReply:
    """Text (and parsed model) of one call, with what the debug output shows."""

    text: str
    parsed: Any
    model: str
    input_tokens: int
    output_tokens: int

    def record(self, purpose: str) -> dict[str, Any]:
        """Entry of the turn's llm_calls list."""
        return {
            "purpose": purpose,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


class AgentLLM(Protocol):
    """What nodes need from a language model."""

    async def complete(
        self, messages: list[dict[str, str]], *, purpose: str, response_model: type[BaseModel] | None = None
    ) -> LLMReply:
        """One chat completion."""
        ...


class GatewayLLM:
    """AgentLLM over the platform gateway: metered in the cost ledger with origin `agent`."""

    def __init__(self, gateway: LLMGateway, *, organization_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        self.gateway = gateway
        self.context = CallContext(organization_id=organization_id, origin="agent", user_id=user_id)

    async def complete(
        self, messages: list[dict[str, str]], *, purpose: str, response_model: type[BaseModel] | None = None
    ) -> LLMReply:
        """Call the gateway."""
        result = await self.gateway.chat(messages, purpose=purpose, context=self.context, response_model=response_model)
        return LLMReply(result.text, result.parsed, result.model, result.usage.input_tokens, result.usage.output_tokens)


def is_offline(gateway: LLMGateway) -> bool:
    """True when the gateway's primary provider is the rule-based offline one (the agent then uses its own rules)."""
    return gateway.primary.kind == "offline"
