"""The starter sales knowledge base (product FAQ, shipping and after-sales, offers) the demo answers from."""

from __future__ import annotations

from pathlib import Path

SALES_STARTER_DIR = Path(__file__).resolve().parent / "kb_starter"
