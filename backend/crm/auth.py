"""The CRM API key: sent by the client as a bearer token, required by the in-app mock CRM routes."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from backend.config import Settings
from backend.core.errors import Unauthorized

GENERATED_KEY_STATE = "mock_crm_api_key"


def crm_api_key(app: Any) -> str | None:
    """The key for the app's CRM: CRM_API_KEY, else (mock CRM only) a random key generated once per app.

    The generated key never leaves the process, so without CRM_API_KEY the mock routes answer only the
    app's own client. With CRM_BASE_URL set and no CRM_API_KEY there is no key (`serve` refuses to start).
    """
    settings: Settings = app.state.settings
    if settings.integrations.crm_api_key:
        return settings.integrations.crm_api_key
    if settings.integrations.crm_base_url:
        return None
    key: str | None = getattr(app.state, GENERATED_KEY_STATE, None)
    if key is None:
        key = secrets.token_urlsafe(32)
        setattr(app.state, GENERATED_KEY_STATE, key)
    return key


def check_bearer(authorization: str | None, expected: str) -> None:
    """Refuse (401) a missing or wrong `Authorization: Bearer <key>`; the key is compared in constant time."""
    scheme, _, presented = (authorization or "").strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise Unauthorized("the CRM API key is missing (Authorization: Bearer <CRM_API_KEY>)", code="crm_key_missing")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Unauthorized("the CRM API key is wrong", code="crm_key_invalid")
