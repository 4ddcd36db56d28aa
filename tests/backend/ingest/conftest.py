"""Fixtures of the ingest tests (shared with the accounts tests)."""

from tests.backend.accounts.support import make_account, settings, sim

__all__ = ["make_account", "settings", "sim"]
