"""conversations: holder and lease, handoff, notes, policies, reply decisions, message search; kb per organisation

Revision ID: 948e34591b65
Revises: a7c3e9d2f1b4
Create Date: 2026-11-22 02:17:09.947356+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "948e34591b65"
down_revision: str | None = "a7c3e9d2f1b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("conversations", sa.Column("holder", sa.String(8), server_default="ai", nullable=False))
    op.add_column("conversations", sa.Column("holder_user_id", sa.Uuid(), nullable=True))
    op.add_column(
        "conversations", sa.Column("lease_version", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("conversations", sa.Column("mode_reason", sa.Text(), server_default="", nullable=False))
    op.add_column("conversations", sa.Column("mode_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("conversations", sa.Column("handoff_summary", sa.Text(), server_default="", nullable=False))
    op.add_column("conversations", sa.Column("handoff_deadline", sa.DateTime(timezone=True), nullable=True))
    op.add_column("conversations", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("conversations", sa.Column("last_customer_message_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("conversations", sa.Column("last_human_activity_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("conversations", sa.Column("last_message_preview", sa.String(120), server_default="", nullable=False))
    op.create_foreign_key(
        op.f("fk_conversations_holder_user_id_users"),
        "conversations",
        "users",
        ["holder_user_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        op.f("ck_conversations_mode_known"), "conversations", "mode in ('ai','pending_human','human','closed')"
    )
    op.create_check_constraint(
        op.f("ck_conversations_holder_known"), "conversations", "holder in ('ai','staff','sop','none')"
    )
    op.create_index("ix_messages_org_id", "messages", ["organization_id", "id"])
    op.create_index(
        "ix_messages_text_trgm", "messages", ["text"], postgresql_using="gin", postgresql_ops={"text": "gin_trgm_ops"}
    )
    op.create_table(
        "conversation_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("settings", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_conversation_policies_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_conversation_policies_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_policies")),
    )
    op.create_index(
        "uq_conversation_policies_org_account",
        "conversation_policies",
        ["organization_id", "account_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("author_user_id", sa.Uuid(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_conversation_notes_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_conversation_notes_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_notes")),
    )
    op.create_index(
        "ix_conversation_notes_conversation_created", "conversation_notes", ["conversation_id", "created_at"]
    )
    op.create_table(
        "reply_decisions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("trigger_message_id", sa.BigInteger(), nullable=True),
        sa.Column("reply_message_id", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("draft", sa.Text(), server_default="", nullable=False),
        sa.Column("model", sa.String(120), server_default="", nullable=False),
        sa.Column("provider", sa.String(60), server_default="", nullable=False),
        sa.Column("input_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("output_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cost", sa.Numeric(14, 6), server_default=sa.text("0"), nullable=False),
        sa.Column("latency_ms", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("kb_hits", JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("checks", JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("inputs", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "outcome in ('sent', 'dropped', 'blocked', 'failed', 'handoff', 'skipped')",
            name=op.f("ck_reply_decisions_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_reply_decisions_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_reply_decisions_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_reply_decisions_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_decisions")),
    )
    op.create_index("ix_reply_decisions_conversation_id", "reply_decisions", ["conversation_id", "id"])
    op.create_index("ix_reply_decisions_reply_message_id", "reply_decisions", ["reply_message_id"])
    # No foreign key to organizations: the kb schema is a separate store (see KbDocument).
    for table in ("documents", "chunks"):
        op.add_column(table, sa.Column("organization_id", sa.Uuid(), nullable=True), schema="kb")
    op.create_index("ix_kb_chunks_organization_id", "chunks", ["organization_id"], schema="kb")
    op.drop_constraint("uq_documents_source", "documents", schema="kb", type_="unique")
    op.create_index(
        "uq_kb_documents_org_source",
        "documents",
        ["organization_id", "source"],
        unique=True,
        schema="kb",
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_kb_documents_org_source", table_name="documents", schema="kb")
    op.execute("DELETE FROM kb.documents WHERE organization_id IS NOT NULL")
    op.create_unique_constraint("uq_documents_source", "documents", ["source"], schema="kb")
    op.drop_index("ix_kb_chunks_organization_id", table_name="chunks", schema="kb")
    for table in ("chunks", "documents"):
        op.drop_column(table, "organization_id", schema="kb")
    op.drop_table("reply_decisions")
    op.drop_table("conversation_notes")
    op.drop_table("conversation_policies")
    op.drop_index("ix_messages_text_trgm", table_name="messages")
    op.drop_index("ix_messages_org_id", table_name="messages")
    op.drop_constraint(op.f("ck_conversations_holder_known"), "conversations", type_="check")
    op.drop_constraint(op.f("ck_conversations_mode_known"), "conversations", type_="check")
    op.drop_constraint(op.f("fk_conversations_holder_user_id_users"), "conversations", type_="foreignkey")
    for column in (
        "last_message_preview",
        "last_human_activity_at",
        "last_customer_message_at",
        "escalated_at",
        "handoff_deadline",
        "handoff_summary",
        "mode_changed_at",
        "mode_reason",
        "lease_version",
        "holder_user_id",
        "holder",
    ):
        op.drop_column("conversations", column)
