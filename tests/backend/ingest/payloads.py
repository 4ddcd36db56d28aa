"""GeWe callback payloads for the ingest tests."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path("/work/shared/gewe/samples")
_ids = itertools.count(9_100_000_000_000_000_001)


def add_msg(
    app_id: str,
    *,
    from_wxid: str,
    to_wxid: str,
    content: str = "你好，在吗？",
    new_msg_id: str | None = None,
    msg_type: int = 1,
) -> dict[str, Any]:
    """An AddMsg callback as GeWe posts it (newMsgId above 2^53)."""
    return {
        "TypeName": "AddMsg",
        "Appid": app_id,
        "Wxid": to_wxid,
        "Data": {
            "MsgId": 1_000_000 + (next_id := next(_ids)) % 1_000_000,
            "NewMsgId": int(new_msg_id) if new_msg_id else next_id,
            "FromUserName": {"string": from_wxid},
            "ToUserName": {"string": to_wxid},
            "MsgType": msg_type,
            "Content": {"string": content},
            "CreateTime": int(time.time()),
            "MsgSource": "<msgsource></msgsource>",
            "Status": 3,
        },
    }


def load_sample(name: str) -> dict[str, Any]:
    """One official-doc sample payload."""
    sample: dict[str, Any] = json.loads((SAMPLES_DIR / name).read_text())
    return sample


SAMPLE_NAMES = sorted(path.name for path in SAMPLES_DIR.glob("*.json"))
