"""Building an agent run's dependencies from the app: database, CRM client, LLM gateway."""

from __future__ import annotations

from typing import Any

import httpx

from backend.agent.llm import GatewayLLM, is_offline
from backend.agent.runtime import AgentDeps
from backend.auth.models import Role, User
from backend.config import Settings
from backend.core.deps import require_role
from backend.crm.auth import crm_api_key
from backend.crm.client import CrmClient
from backend.llm.factory import get_gateway

AgentUser = require_role(Role.manager, Role.admin)


def crm_client(app: Any) -> CrmClient:
    """The real CRM at CRM_BASE_URL, else the app's own mock CRM routes called in-process at its base URL.

    Both get the CRM API key (CRM_API_KEY, or the mock's generated key); a real CRM without a key is not called.
    """
    settings: Settings = app.state.settings
    key = crm_api_key(app)
    if settings.integrations.crm_base_url:
        return CrmClient(settings.integrations.crm_base_url, api_key=key, require_api_key=True)
    return CrmClient(
        settings.public_base_url, api_key=key, require_api_key=True, transport=httpx.ASGITransport(app=app)
    )


def agent_deps(app: Any, user: User, crm: CrmClient | None = None) -> AgentDeps:
    """Dependencies of one run for a user; the LLM is used only when a non-offline provider is configured."""
    settings: Settings = app.state.settings
    gateway = get_gateway(app)
    offline = is_offline(gateway)
    return AgentDeps(
        engine=app.state.database.engine,
        sessionmaker=app.state.database.sessionmaker,
        crm=crm,
        llm=None if offline else GatewayLLM(gateway, organization_id=user.organization_id, user_id=user.id),
        model_name="offline-rules (semantic layer)" if offline else gateway.primary.model,
        embed_model_path=settings.embeddings.model_path,
    )
