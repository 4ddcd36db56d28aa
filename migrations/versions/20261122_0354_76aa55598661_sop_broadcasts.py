"""SOP broadcasts: definitions, steps, resolved targets and one delivery row per (sop, step, target, occurrence)

Revision ID: 76aa55598661
Revises: 948e34591b65
Create Date: 2026-11-22 03:54:34.381373+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "76aa55598661"
down_revision: str | None = "948e34591b65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the SOP tables."""
    op.create_table(
        "sops",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False),
        sa.Column("dynamic", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "targets", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("status_reason", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status in ('draft','running','paused','cancelled','completed')", name=op.f("ck_sops_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_sops_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_sops_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sops")),
    )
    op.create_index(op.f("ix_sops_organization_id"), "sops", ["organization_id"], unique=False)
    op.create_table(
        "sop_steps",
        sa.Column("sop_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("timing", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=True),
        sa.Column("window_end", sa.Time(), nullable=True),
        sa.Column("missed", sa.String(length=16), server_default="late", nullable=False),
        sa.Column("when_human", sa.String(length=8), server_default="wait", nullable=False),
        sa.Column("stop_on_reply", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "stop_on_tags",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("ai_personalize", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("ai_instruction", sa.Text(), server_default="", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["sop_id"], ["sops.id"], name=op.f("fk_sop_steps_sop_id_sops"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_steps")),
        sa.UniqueConstraint("sop_id", "position", name=op.f("uq_sop_steps_sop_id_position")),
    )
    op.create_index(op.f("ix_sop_steps_sop_id"), "sop_steps", ["sop_id"], unique=False)
    op.create_table(
        "sop_targets",
        sa.Column("sop_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sop_targets_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_sop_targets_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["sop_id"], ["sops.id"], name=op.f("fk_sop_targets_sop_id_sops"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sop_id", "contact_id", name=op.f("pk_sop_targets")),
    )
    op.create_table(
        "sop_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("sop_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("planned_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("gewe_new_msg_id", sa.String(length=32), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status in ('pending','claimed','sending','sent','skipped','dead','cancelled')",
            name=op.f("ck_sop_deliveries_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sop_deliveries_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_sop_deliveries_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_sop_deliveries_message_id_messages"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_sop_deliveries_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sop_id"], ["sops.id"], name=op.f("fk_sop_deliveries_sop_id_sops"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["step_id"], ["sop_steps.id"], name=op.f("fk_sop_deliveries_step_id_sop_steps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_deliveries")),
        sa.UniqueConstraint("sop_id", "step_id", "contact_id", "occurrence", name="uq_sop_deliveries_once"),
    )
    op.create_index(
        "ix_sop_deliveries_due",
        "sop_deliveries",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_sop_deliveries_in_flight",
        "sop_deliveries",
        ["claimed_until"],
        unique=False,
        postgresql_where=sa.text("status in ('claimed','sending')"),
    )
    op.create_index("ix_sop_deliveries_progress", "sop_deliveries", ["sop_id", "account_id", "status"], unique=False)


def downgrade() -> None:
    """Drop the SOP tables."""
    for table in ("sop_deliveries", "sop_targets", "sop_steps", "sops"):
        op.drop_table(table)
