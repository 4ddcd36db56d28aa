"""Audit log: index by organisation and time, for the admins' audit page (newest first, time filters)

Revision ID: c155c71932ba
Revises: c4d8e1f2a3b5
Create Date: 2026-12-03 16:05:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c155c71932ba"
down_revision: str | None = "c4d8e1f2a3b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Replace the organisation index of audit_events by one on (organisation, time)."""
    op.create_index(
        "ix_audit_events_organization_id_created_at", "audit_events", ["organization_id", "created_at"], unique=False
    )
    op.drop_index("ix_audit_events_organization_id", table_name="audit_events")


def downgrade() -> None:
    """Back to the plain organisation index."""
    op.create_index("ix_audit_events_organization_id", "audit_events", ["organization_id"], unique=False)
    op.drop_index("ix_audit_events_organization_id_created_at", table_name="audit_events")
