"""Fixtures of the accounts tests (shared with the ingest tests)."""

from tests.backend.accounts.support import make_account, settings, sim

__all__ = ["make_account", "settings", "sim"]
