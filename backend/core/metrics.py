"""Prometheus metrics shared by the whole process."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Histogram, start_http_server

HTTP_REQUESTS = Counter("salesbot_http_requests_total", "HTTP requests handled", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "salesbot_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LOGINS = Counter("salesbot_logins_total", "Login attempts", ["outcome"])
HANDOFFS = Counter("salesbot_handoffs_total", "Handoff events", ["event"])
REPLIES = Counter("salesbot_ai_replies_total", "AI reply attempts by outcome", ["outcome"])
SOCKET_CONNECTIONS = Counter("salesbot_socket_connections_total", "Socket.IO connection attempts", ["outcome"])
CALLBACKS = Counter("salesbot_callbacks_total", "GeWe callbacks answered, by outcome", ["outcome"])
INGEST_LAG = Histogram(
    "salesbot_ingest_lag_seconds",
    "From a callback's acceptance to the end of its processing (dispatch lag included)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300),
)
SENDS = Counter("salesbot_sends_total", "Messages sent as an account, by sender and outcome", ["sent_by", "status"])
LLM_CALLS = Histogram(
    "salesbot_llm_call_seconds",
    "LLM call attempts, by origin, provider and status",
    ["origin", "provider", "status"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
LLM_COST = Counter("salesbot_llm_cost_cny_total", "LLM spend in CNY, by origin", ["origin"])
PRUNED_ROWS = Counter("salesbot_pruned_rows_total", "Rows deleted by retention, by table", ["table"])
SOP_DELIVERIES = Counter("salesbot_sop_deliveries_total", "SOP deliveries settled, by outcome", ["outcome"])


def serve_metrics(host: str, port: int) -> Callable[[], None]:
    """Serve /metrics of this process on host:port from a background thread (processes without HTTP); returns stop."""
    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
