"""Log lines name the request and the conversation they belong to."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from typing import Any

from backend.conversations.service import ReplyJob
from backend.core.logs import JsonFormatter, RedactingStreamHandler, conversation_id_var, request_id_var
from backend.replies.runtime import ReplyWorker


def _line(message: str) -> dict[str, Any]:
    record = logging.LogRecord("salesbot.test", logging.INFO, __file__, 1, message, (), None)
    return json.loads(JsonFormatter().format(record))


def test_a_log_line_carries_the_request_and_conversation_ids_in_context() -> None:
    request_token = request_id_var.set("req-1")
    conversation_token = conversation_id_var.set("c0ffee")
    try:
        line = _line("接管会话")
    finally:
        request_id_var.reset(request_token)
        conversation_id_var.reset(conversation_token)
    assert (line["msg"], line["request_id"], line["conversation_id"]) == ("接管会话", "req-1", "c0ffee")


def test_a_log_line_outside_any_conversation_has_no_conversation_id() -> None:
    assert "conversation_id" not in _line("启动")


class _CapturingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.conversation_ids: list[str | None] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.conversation_ids.append(conversation_id_var.get())


async def test_a_failing_ai_reply_is_logged_with_its_conversation_id() -> None:
    conversation_id = uuid.uuid4()
    handler = _CapturingHandler()
    logging.getLogger("backend.replies.runtime").addHandler(handler)
    try:
        worker = ReplyWorker(None)  # type: ignore[arg-type]  # no dependencies: the job fails at once
        worker.submit(ReplyJob(conversation_id=conversation_id, trigger_message_id=1, kind="answer", lease_version=1))
        await asyncio.wait_for(worker.wait_idle(), 10)
    finally:
        logging.getLogger("backend.replies.runtime").removeHandler(handler)
    assert handler.conversation_ids == [str(conversation_id)]


def test_a_callback_url_is_logged_without_its_secret() -> None:
    stream = io.StringIO()
    handler = RedactingStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("salesbot.test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("callback to %s failed", "http://127.0.0.1:8000/callbacks/gewe/not-a-real_secret.0~1")
    finally:
        logger.removeHandler(handler)
    assert json.loads(stream.getvalue())["msg"] == "callback to http://127.0.0.1:8000/callbacks/gewe/{secret} failed"
