"""cost: covering index of the conversation rollups for top-conversation reports

Revision ID: a7c3e9d2f1b4
Revises: ff4caa929018
Create Date: 2026-11-22 01:00:00+00:00

`/api/cost/summary?group_by=conversation` ranks conversations by their cost over a period: an index-only
scan in (organization, conversation, day) order feeds a group aggregate without hashing every conversation.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "a7c3e9d2f1b4"
down_revision: str | None = "ff4caa929018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cost_conv_rollups_org_conv_day",
        "cost_conversation_rollups",
        ["organization_id", "conversation_id", "day"],
        postgresql_include=["cost", "calls", "failed_calls", "input_tokens", "cached_input_tokens", "output_tokens"],
    )


def downgrade() -> None:
    op.drop_index("ix_cost_conv_rollups_org_conv_day", table_name="cost_conversation_rollups")
