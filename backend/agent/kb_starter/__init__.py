"""Starter knowledge base documents (Markdown), shipped as package data."""
