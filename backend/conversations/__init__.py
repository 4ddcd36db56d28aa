"""Conversation modes, holders and handoff between the AI and people."""
