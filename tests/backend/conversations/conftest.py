"""Fixtures of the conversation tests: the channel fixtures plus a logged-in, fast-paced account."""

from tests.backend.accounts.support import make_account, settings, sim
from tests.backend.conversations.support import sales_kb, workbench

__all__ = ["make_account", "sales_kb", "settings", "sim", "workbench"]
