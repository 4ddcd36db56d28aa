"""Fixtures of the reply tests: the workbench over the simulator, with the LLM served by the stub."""

import pytest

from backend.config import Settings
from tests.backend.accounts.support import Sim, make_account, sim
from tests.backend.conversations.support import sales_kb, workbench
from tests.fixtures.llm_stub import LLMStub, llm_stub

__all__ = ["llm_stub", "make_account", "sales_kb", "sim", "workbench"]


@pytest.fixture
def settings(settings: Settings, sim: Sim, llm_stub: LLMStub) -> Settings:
    """The simulator for GeWe and the OpenAI-compatible stub for the LLM."""
    configured = settings.model_copy(deep=True)
    configured.gewe.api_base, configured.gewe.token = sim.api_base, "sim-test-token"
    configured.llm.provider, configured.llm.base_url = "openai", llm_stub.base_url
    configured.llm.api_key, configured.llm.model = "sk-test", "deepseek-chat"
    return configured
