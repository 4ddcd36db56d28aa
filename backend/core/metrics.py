"""Prometheus metrics shared by the whole process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
