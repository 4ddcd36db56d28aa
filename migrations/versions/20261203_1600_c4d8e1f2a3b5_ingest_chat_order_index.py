"""Ingest: index of each chat's pending rows, so workers apply one chat's callbacks in order

Revision ID: c4d8e1f2a3b5
Revises: 76aa55598661
Create Date: 2026-12-03 16:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4d8e1f2a3b5"
down_revision: str | None = "76aa55598661"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index pending inbox rows by chat."""
    op.create_index(
        "ix_ingest_inbox_chat_pending",
        "ingest_inbox",
        ["account_id", "lane_key", "id"],
        postgresql_where=sa.text("state = 'accepted'"),
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index(
        "ix_ingest_inbox_chat_pending", table_name="ingest_inbox", postgresql_where=sa.text("state = 'accepted'")
    )
