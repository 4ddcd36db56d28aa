"""Fixtures of the LLM stub server and gateway factory."""

from tests.fixtures.llm_stub import llm_stub, make_gateway

__all__ = ["llm_stub", "make_gateway"]
