"""Conversations and messages of WeChat accounts."""
