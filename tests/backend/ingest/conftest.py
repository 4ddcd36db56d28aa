"""Fixtures of the ingest tests (shared with the accounts tests)."""

import pytest

from backend.accounts.models import Account
from tests.backend.accounts.support import make_account, settings, sim

__all__ = ["account", "make_account", "settings", "sim"]


@pytest.fixture
async def account(request: pytest.FixtureRequest, make_org, make_account) -> Account:
    """A logged-in account of a fresh organisation, with the test module's APP_ID and ACCOUNT_WXID."""
    organization = await make_org()
    created: Account = await make_account(organization, app_id=request.module.APP_ID, wxid=request.module.ACCOUNT_WXID)
    return created
