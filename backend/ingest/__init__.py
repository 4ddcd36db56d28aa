"""GeWe callback ingest: durable inbox, dispatcher (in-process or Redis stream) and sweeper."""
