"""Known OpenAI-compatible endpoints: base URL, default (strong) and cheap models, structured-output mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StructuredMode = Literal["json_schema", "json_object"]


@dataclass(frozen=True)
class Preset:
    """Defaults of one hosted or local OpenAI-compatible API."""

    base_url: str
    model: str
    cheap_model: str
    structured: StructuredMode = "json_object"


PRESETS: dict[str, Preset] = {
    "deepseek": Preset("https://api.deepseek.com/v1", "deepseek-chat", "deepseek-chat"),
    "qwen": Preset("https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus", "qwen-turbo"),
    "doubao": Preset("https://ark.cn-beijing.volces.com/api/v3", "doubao-pro-32k", "doubao-pro-32k"),
    "moonshot": Preset("https://api.moonshot.cn/v1", "moonshot-v1-8k", "moonshot-v1-8k"),
    "ollama": Preset("http://127.0.0.1:11434/v1", "qwen2.5:7b", "qwen2.5:7b", "json_schema"),
    "vllm": Preset("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "json_schema"),
    "openai": Preset("https://api.openai.com/v1", "gpt-4o-mini", "gpt-4o-mini", "json_schema"),
}
ALIASES = {"dashscope": "qwen", "ark": "doubao", "kimi": "moonshot"}

# Purposes served by the cheap model unless configured otherwise; everything else uses the strong one.
CHEAP_PURPOSES = frozenset({"classify", "extract", "summary", "route"})


def get_preset(name: str | None) -> Preset | None:
    """The preset of a name or alias (case-insensitive), None when unknown or unset."""
    if not name:
        return None
    key = name.lower()
    return PRESETS.get(ALIASES.get(key, key))


def guess_preset(base_url: str | None) -> str | None:
    """Name of the preset whose host matches a base URL."""
    if not base_url:
        return None
    for name, preset in PRESETS.items():
        host = preset.base_url.split("//", 1)[1].split("/", 1)[0]
        if host in base_url and not host.startswith("127."):
            return name
    return None
