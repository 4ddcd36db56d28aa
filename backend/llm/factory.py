"""Building the gateway from settings, and the one instance an app keeps in `app.state.llm_gateway`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from backend.config import LLMSettings, Settings
from backend.core.db import Database
from backend.llm.gateway import GatewayConfig, LLMGateway
from backend.llm.presets import get_preset, guess_preset
from backend.llm.providers import ProviderConfig
from backend.realtime.server import Broadcaster

OFFLINE = ProviderConfig(name="offline", kind="offline", model="offline-rules", cheap_model="offline-rules")


def provider_config(
    kind: str,
    *,
    preset: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    cheap_model: str | None = None,
    timeout_seconds: float = 30.0,
) -> ProviderConfig:
    """A provider config with preset defaults filled in; raises ValueError when it cannot work."""
    if kind == "offline":
        return OFFLINE
    if kind == "fastgpt":
        if not base_url:
            raise ValueError("the fastgpt provider needs a base URL (e.g. https://cloud.fastgpt.cn/api)")
        return ProviderConfig(
            name="fastgpt",
            kind="fastgpt",
            base_url=base_url,
            api_key=api_key,
            model=model or "fastgpt-app",
            cheap_model=cheap_model,
            timeout_seconds=timeout_seconds,
        )
    if kind != "openai":
        raise ValueError(f"unknown LLM provider kind {kind!r}: use offline, openai or fastgpt")
    name = (preset or guess_preset(base_url) or "openai-compatible").lower()
    defaults = get_preset(name)
    url = base_url or (defaults.base_url if defaults else None)
    chosen = model or (defaults.model if defaults else None)
    if not url or not chosen:
        raise ValueError("an OpenAI-compatible provider needs LLM_BASE_URL and LLM_MODEL (or LLM_PRESET)")
    return ProviderConfig(
        name=name,
        kind="openai",
        base_url=url,
        api_key=api_key,
        model=chosen,
        cheap_model=cheap_model or (defaults.cheap_model if defaults and not model else None),
        structured=defaults.structured if defaults else "json_object",
        timeout_seconds=timeout_seconds,
    )


def _fallback(entry: str | dict[str, str], timeout_seconds: float) -> ProviderConfig:
    if isinstance(entry, str):
        preset = get_preset(entry)
        return provider_config("offline" if entry == "offline" else "openai", preset=entry if preset else None)
    return provider_config(
        entry.get("kind", "openai"),
        preset=entry.get("preset"),
        base_url=entry.get("base_url"),
        api_key=entry.get("api_key"),
        model=entry.get("model"),
        cheap_model=entry.get("cheap_model"),
        timeout_seconds=float(entry.get("timeout_seconds", timeout_seconds)),
    )


def gateway_config(settings: LLMSettings, *, webhook_allow_private: bool = False) -> GatewayConfig:
    """The provider chain and policy described by LLM_* settings (and WEBHOOK_ALLOW_PRIVATE for budget alerts)."""
    primary = provider_config(
        settings.provider,
        preset=settings.preset,
        base_url=settings.base_url,
        api_key=settings.api_key,
        model=settings.model,
        cheap_model=settings.cheap_model,
        timeout_seconds=settings.timeout_seconds,
    )
    chain = [primary, *(_fallback(entry, settings.timeout_seconds) for entry in settings.fallback)]
    return GatewayConfig(
        providers=tuple(chain),
        purpose_models=dict(settings.purpose_models),
        max_retries=settings.max_retries,
        webhook_allow_private=webhook_allow_private,
    )


def get_gateway(app: Any) -> LLMGateway:
    """The app's gateway, built from its settings on first use and kept in `app.state.llm_gateway`."""
    gateway: LLMGateway | None = getattr(app.state, "llm_gateway", None)
    if gateway is None:
        settings: Settings = app.state.settings
        database: Database = app.state.database
        broadcaster: Broadcaster | None = getattr(app.state, "broadcaster", None)
        config = gateway_config(settings.llm, webhook_allow_private=settings.security.webhook_allow_private)
        gateway = LLMGateway(config, database=database, broadcaster=broadcaster)
        app.state.llm_gateway = gateway
    return gateway


def _gateway_dependency(request: Request) -> LLMGateway:
    return get_gateway(request.app)


GatewayDep = Annotated[LLMGateway, Depends(_gateway_dependency)]
