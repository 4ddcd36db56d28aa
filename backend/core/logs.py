"""Structured JSON logs carrying the request and conversation ids of the work they belong to."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from backend.core.secrets import CALLBACK_SECRET_SHAPE

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
conversation_id_var: ContextVar[str | None] = ContextVar("conversation_id", default=None)

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request and conversation ids, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as a JSON line."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, variable in (("request_id", request_id_var), ("conversation_id", conversation_id_var)):
            value = variable.get()
            if value:
                entry[name] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_CALLBACK_SECRET = re.compile(f"(/callbacks/gewe/){CALLBACK_SECRET_SHAPE}")


class RedactingStreamHandler(logging.StreamHandler):
    """A stream handler that never writes a callback URL's secret, wherever it appears (message, arguments, traceback).

    httpx logs every request's URL at INFO, and the bundled simulator of the demo posts to our callback URLs.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, redacted."""
        return _CALLBACK_SECRET.sub(r"\1{secret}", super().format(record))


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Send all logs to stderr, as JSON lines or plain text, without callback secrets."""
    handler = RedactingStreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
