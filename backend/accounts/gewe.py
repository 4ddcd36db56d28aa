"""GeWe access for accounts: one shared HTTP pool per process, tokens decrypted per account, errors as 502."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request

from backend.accounts.models import Account
from backend.config import GeweSettings, SecuritySettings
from backend.core.errors import AppError
from bots.gewe import GeweApiError, GeweClient, GeweError, GeweTransportError


class GeweFailed(AppError):
    """GeWe refused or could not be reached; the message carries GeWe's own text."""

    status_code = 502
    code = "gewe_error"


class GeweNotConfigured(AppError):
    """No GeWe API base is configured (and no simulator is running)."""

    status_code = 503
    code = "gewe_not_configured"


def token_cipher(security: SecuritySettings) -> Fernet:
    """The Fernet cipher for GeWe tokens at rest (ENCRYPTION_KEY; `serve` refuses to start without one)."""
    key = security.encryption_key
    if not key:
        if not security.jwt_secret:
            raise ValueError("ENCRYPTION_KEY (or at least JWT_SECRET) must be set to store GeWe tokens")
        # Test and CLI processes without a key: a stable key derived from the JWT secret.
        digest = hashlib.sha256(b"salesbot-gewe-token\0" + security.jwt_secret.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def gewe_message(exc: GeweError) -> str:
    """GeWe's own message for an API error, or what went wrong in transport."""
    if isinstance(exc, GeweApiError):
        return exc.msg
    if isinstance(exc, GeweTransportError):
        return f"GeWe unreachable: {exc}"
    return str(exc)


@asynccontextmanager
async def gewe_errors() -> AsyncIterator[None]:
    """Turn GeWe errors raised inside the block into a 502 carrying GeWe's message."""
    try:
        yield
    except GeweError as exc:
        raise GeweFailed(gewe_message(exc)) from exc


class GeweGateway:
    """Builds GeWe clients for accounts; the API base may be set later (the demo simulator's URL)."""

    def __init__(self, settings: GeweSettings, cipher: Fernet, *, api_base: str | None = None) -> None:
        self.api_base = api_base or settings.api_base
        self.default_token = settings.token or ""
        self.cipher = cipher
        self._timeout = settings.timeout_seconds
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_seconds, connect=5.0))

    def client(self, account: Account | None = None) -> GeweClient:
        """A client using the account's own token when it has one, else the configured token."""
        if not self.api_base:
            raise GeweNotConfigured("GeWe is not configured: set GEWE_API_BASE and GEWE_TOKEN")
        token = self.decrypt(account.gewe_token_encrypted) if account and account.gewe_token_encrypted else None
        return GeweClient(self.api_base, token or self.default_token, timeout=self._timeout, http_client=self._http)

    def encrypt(self, token: str) -> str:
        """Encrypt a GeWe token for storage."""
        return self.cipher.encrypt(token.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """Decrypt a stored GeWe token."""
        try:
            return self.cipher.decrypt(stored.encode()).decode()
        except InvalidToken as exc:
            raise AppError(
                "the stored GeWe token cannot be decrypted: ENCRYPTION_KEY changed; set the token again",
                code="gewe_token_unreadable",
                status_code=500,
            ) from exc

    async def aclose(self) -> None:
        """Close the shared HTTP pool."""
        await self._http.aclose()


def get_gateway(request: Request) -> GeweGateway:
    """The running app's GeWe gateway."""
    gateway: GeweGateway = request.app.state.gewe
    return gateway
