"""Fixtures of the audit tests: the channel fixtures (a GeWe simulator behind the accounts API)."""

from tests.backend.accounts.support import make_account, settings, sim

__all__ = ["make_account", "settings", "sim"]
