"""Retention: BRIN indexes on the inbox's and the console events' time columns, so pruning skips recent rows

Revision ID: 9e41c7b2d5a8
Revises: 5b1e9d7c3a20
Create Date: 2026-12-06 00:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "9e41c7b2d5a8"
down_revision: str | None = "5b1e9d7c3a20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index both tables by time with BRIN (rows arrive in time order; an insert costs next to nothing)."""
    op.create_index("ix_ingest_inbox_accepted_at_brin", "ingest_inbox", ["accepted_at"], postgresql_using="brin")
    op.create_index("ix_realtime_events_created_at_brin", "realtime_events", ["created_at"], postgresql_using="brin")


def downgrade() -> None:
    """Drop the indexes."""
    op.drop_index("ix_realtime_events_created_at_brin", table_name="realtime_events")
    op.drop_index("ix_ingest_inbox_accepted_at_brin", table_name="ingest_inbox")
