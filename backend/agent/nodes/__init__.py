"""Nodes of the agent graph (async, each returns a partial state update)."""
