"""Gateway configuration from LLM_* settings, and the app's single gateway instance."""

from __future__ import annotations

import pytest

from backend.config import LLMSettings, Settings
from backend.llm.factory import gateway_config, get_gateway


def test_a_preset_fills_base_url_and_models() -> None:
    config = gateway_config(LLMSettings(provider="openai", preset="qwen", api_key="sk"))
    (primary,) = config.providers
    assert (primary.name, primary.base_url, primary.model, primary.cheap_model) == (
        "qwen",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "qwen-plus",
        "qwen-turbo",
    )


def test_the_preset_is_recognised_from_the_base_url_and_fallbacks_follow() -> None:
    config = gateway_config(
        LLMSettings(
            provider="openai",
            base_url="https://api.deepseek.com/v1",
            model="deepseek-chat",
            fallback=[{"preset": "moonshot", "api_key": "k"}, "offline"],
            purpose_models={"classify": "deepseek-chat"},
        )
    )
    assert [(p.name, p.kind, p.model) for p in config.providers] == [
        ("deepseek", "openai", "deepseek-chat"),
        ("moonshot", "openai", "moonshot-v1-8k"),
        ("offline", "offline", "offline-rules"),
    ]
    assert config.purpose_models == {"classify": "deepseek-chat"}


def test_fastgpt_without_a_base_url_is_refused() -> None:
    with pytest.raises(ValueError, match="base URL"):
        gateway_config(LLMSettings(provider="fastgpt"))


async def test_the_app_builds_one_gateway_and_keeps_it_in_app_state(app) -> None:
    fastapi_app = app.other_asgi_app
    gateway = get_gateway(fastapi_app)
    assert get_gateway(fastapi_app) is gateway is fastapi_app.state.llm_gateway
    settings: Settings = fastapi_app.state.settings
    assert gateway.primary.kind == settings.llm.provider
