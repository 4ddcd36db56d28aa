"""Providers behind the gateway: any OpenAI-compatible API (openai SDK), FastGPT (httpx) and offline rules."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

import httpx
import openai

from backend.llm import offline
from backend.llm.presets import StructuredMode
from backend.llm.structured import OutputSpec
from backend.llm.types import Message, Usage

ProviderKind = Literal["openai", "fastgpt", "offline"]
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ProviderConfig:
    """One provider of the chain: `name` is what the ledger and the price table call it."""

    name: str
    kind: ProviderKind
    base_url: str | None = None
    api_key: str | None = None
    model: str = "offline-rules"
    cheap_model: str | None = None
    structured: StructuredMode = "json_object"
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class ProviderRequest:
    """What the gateway asks a provider for."""

    messages: list[Message]
    model: str
    output: OutputSpec | None = None
    temperature: float | None = None
    chat_id: str | None = None
    variables: dict[str, str] | None = None


@dataclass
class ProviderReply:
    """A provider's answer; `breakdown` lists (model, usage) per billed part when a workflow used several."""

    text: str
    usage: Usage
    model: str
    provider_request_id: str | None = None
    breakdown: list[tuple[str, Usage]] = field(default_factory=list)


class ProviderFailure(Exception):
    """A failed attempt: timeout or error, transient (worth a retry) or not, with any usage the provider billed."""

    def __init__(
        self,
        message: str,
        *,
        status: Literal["error", "timeout"] = "error",
        transient: bool,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.usage = usage or Usage()


class Provider(Protocol):
    """A chat-completion backend."""

    config: ProviderConfig

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        """Answer one request or raise ProviderFailure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _with_output_instruction(request: ProviderRequest, mode: StructuredMode | None) -> list[Message]:
    if request.output is None or mode == "json_schema":
        return request.messages
    return [request.output.instruction(), *request.messages]


class OpenAICompatibleProvider:
    """DeepSeek, Qwen/DashScope, Doubao/Ark, Moonshot, Ollama, vLLM, OpenAI: the chat completions API."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        # Retries are the gateway's job, so each attempt gets its own ledger row.
        self.client = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",
            timeout=config.timeout_seconds,
            max_retries=0,
        )

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        """Call /chat/completions and read usage, cached tokens included."""
        extra: dict[str, Any] = {}
        if request.output is not None:
            extra["response_format"] = request.output.response_format(self.config.structured)
        if request.temperature is not None:
            extra["temperature"] = request.temperature
        try:
            response = await self.client.chat.completions.create(
                model=request.model,
                messages=cast(Any, _with_output_instruction(request, self.config.structured)),
                **extra,
            )
        except openai.APITimeoutError as exc:
            raise ProviderFailure(
                f"timed out after {self.config.timeout_seconds}s", status="timeout", transient=True
            ) from exc
        except openai.APIConnectionError as exc:
            raise ProviderFailure(f"connection failed: {exc}", transient=True) from exc
        except openai.APIStatusError as exc:
            raise ProviderFailure(
                f"HTTP {exc.status_code}: {_short(exc.message)}", transient=exc.status_code in TRANSIENT_STATUS
            ) from exc
        if not response.choices:
            raise ProviderFailure("response without choices", transient=True, usage=openai_usage(response.usage))
        usage = openai_usage(response.usage)
        return ProviderReply(
            text=response.choices[0].message.content or "",
            usage=usage,
            model=response.model or request.model,
            provider_request_id=response.id,
        )

    async def aclose(self) -> None:
        """Close the SDK's HTTP pool."""
        await self.client.close()


def openai_usage(usage: Any) -> Usage:
    """Usage of an OpenAI-style response; DeepSeek reports cache hits as prompt_cache_hit_tokens."""
    if usage is None:
        return Usage()
    cached = 0
    details = getattr(usage, "prompt_tokens_details", None)
    if details is not None and getattr(details, "cached_tokens", None):
        cached = int(details.cached_tokens)
    elif (getattr(usage, "model_extra", None) or {}).get("prompt_cache_hit_tokens"):
        cached = int(usage.model_extra["prompt_cache_hit_tokens"])
    return Usage(int(usage.prompt_tokens or 0), cached, int(usage.completion_tokens or 0))


class FastGPTProvider:
    """A FastGPT app through its OpenAI-compatible /api/v1/chat/completions with chatId, variables and detail."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        base = (config.base_url or "").rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.http = httpx.AsyncClient(
            timeout=config.timeout_seconds,
            headers={"Authorization": f"Bearer {config.api_key}"} if config.api_key else {},
        )

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        """Run the app once (non-streaming, detail=true) and meter the modules of its responseData."""
        body: dict[str, Any] = {
            "chatId": request.chat_id or uuid.uuid4().hex,
            "stream": False,
            "detail": True,
            "variables": request.variables or {},
            "messages": _with_output_instruction(request, None),
        }
        if request.model and request.model != self.config.model:
            body["model"] = request.model
        try:
            response = await self.http.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise ProviderFailure(
                f"timed out after {self.config.timeout_seconds}s", status="timeout", transient=True
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderFailure(f"connection failed: {exc}", transient=True) from exc
        if response.status_code >= 400:
            raise ProviderFailure(
                f"HTTP {response.status_code}: {_short(response.text)}",
                transient=response.status_code in TRANSIENT_STATUS,
            )
        try:
            payload = response.json()
        except json.JSONDecodeError as exc:
            raise ProviderFailure("FastGPT answered with something other than JSON", transient=True) from exc
        return parse_fastgpt(payload, fallback_model=request.model)

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self.http.aclose()


def parse_fastgpt(payload: dict[str, Any], *, fallback_model: str) -> ProviderReply:
    """Text, usage and per-module breakdown of a FastGPT detail response."""
    choices = payload.get("choices") or []
    if not choices:
        message = payload.get("message") or payload.get("statusText") or "no choices"
        raise ProviderFailure(f"FastGPT error: {_short(str(message))}", transient=False)
    content = choices[0].get("message", {}).get("content", "")
    if isinstance(content, list):  # FastGPT may answer with typed parts
        content = "".join(
            part.get("text", {}).get("content", "") if isinstance(part, dict) else str(part) for part in content
        )
    breakdown: list[tuple[str, Usage]] = []
    main_model = ""
    for module in payload.get("responseData") or []:
        if not isinstance(module, dict) or not module.get("model"):
            continue
        inputs = int(module.get("inputTokens") or 0)
        outputs = int(module.get("outputTokens") or 0)
        if not inputs and not outputs:
            inputs = int(module.get("tokens") or 0)  # older FastGPT: only a total per module
        breakdown.append((str(module["model"]), Usage(inputs, 0, outputs)))
        if module.get("moduleType") == "chatNode" or not main_model:
            main_model = str(module["model"])
    if breakdown:
        usage = sum((part for _, part in breakdown), Usage())
    else:
        raw = payload.get("usage") or {}
        usage = Usage(int(raw.get("prompt_tokens") or 0), 0, int(raw.get("completion_tokens") or 0))
    return ProviderReply(
        text=str(content),
        usage=usage,
        model=main_model or str(payload.get("model") or fallback_model),
        provider_request_id=payload.get("id"),
        breakdown=breakdown,
    )


class OfflineProvider:
    """Deterministic rule-based answers; costs nothing and is always labelled offline."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        """Answer by rules (or with the schema's skeleton when structured output is asked for)."""
        text = request.output.skeleton() if request.output is not None else offline.answer(request.messages)
        return ProviderReply(text=text, usage=offline.usage_of(request.messages, text), model=self.config.model)

    async def aclose(self) -> None:
        """Nothing to release."""


def make_provider(config: ProviderConfig) -> Provider:
    """The provider implementation of a config."""
    if config.kind == "openai":
        return OpenAICompatibleProvider(config)
    if config.kind == "fastgpt":
        return FastGPTProvider(config)
    return OfflineProvider(config)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
