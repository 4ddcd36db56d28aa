"""Contacts (friends and groups) of a WeChat account."""
