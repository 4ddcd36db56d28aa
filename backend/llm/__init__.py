"""LLM gateway: `await gateway.chat(messages, purpose=..., context=CallContext(...))` for every model call."""

from backend.llm.gateway import GatewayConfig, LLMGateway
from backend.llm.providers import ProviderConfig
from backend.llm.types import (
    BudgetCheck,
    BudgetExceeded,
    CallContext,
    ChatResult,
    LLMError,
    LLMUnavailable,
    StructuredOutputError,
    Usage,
)

__all__ = [
    "BudgetCheck",
    "BudgetExceeded",
    "CallContext",
    "ChatResult",
    "GatewayConfig",
    "LLMError",
    "LLMGateway",
    "LLMUnavailable",
    "ProviderConfig",
    "StructuredOutputError",
    "Usage",
]
