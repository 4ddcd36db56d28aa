"""Fixtures of the SOP tests: the channel fixtures plus accounts with tagged friends and a dispatcher on a clock."""

from tests.backend.accounts.support import make_account, settings, sim
from tests.backend.sop.support import sop_world
from tests.fixtures.llm_stub import llm_stub, make_gateway

__all__ = ["llm_stub", "make_account", "make_gateway", "settings", "sim", "sop_world"]
