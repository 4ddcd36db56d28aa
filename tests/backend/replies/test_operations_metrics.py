"""Prometheus figures move with real traffic: callbacks, ingest lag, sends, LLM calls and cost."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.backend.conversations.support import Workbench

WATCHED = {
    ("salesbot_callbacks_total", (("outcome", "accepted"),)),
    ("salesbot_ingest_lag_seconds_count", ()),
    ("salesbot_sends_total", (("sent_by", "ai"), ("status", "sent"))),
    ("salesbot_llm_call_seconds_count", (("origin", "ai_reply"), ("status", "ok"))),
}


async def _figures(workbench: Workbench) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = (await workbench.api.get("/metrics")).text
    figures: dict[tuple[str, tuple[tuple[str, str], ...]], float] = dict.fromkeys(WATCHED, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for name, labels in WATCHED:
                if sample.name == name and set(labels) <= set(sample.labels.items()):
                    figures[(name, labels)] += sample.value
    return figures


async def test_a_customer_message_and_its_ai_reply_move_the_operations_metrics(workbench: Workbench) -> None:
    before = await _figures(workbench)

    await workbench.say("护手霜多少钱？")
    await workbench.wait_sent(1)
    await workbench.settle()

    after = await _figures(workbench)
    assert {key: after[key] - before[key] >= 1 for key in WATCHED} == dict.fromkeys(WATCHED, True)
