"""store agent: retail schema, knowledge base schema, read-only role for agent SQL

Revision ID: ff4caa929018
Revises: 2d577264e7de
Create Date: 2026-11-22 00:15:00+00:00

The chunk embedding is pgvector `vector(384)` with an HNSW index where the extension exists (the
embedded server has it), else `float8[]` and similarity computed by the application. The role
`salesbot_agent_ro` is cluster-wide: created once, granted per database, and left in place on downgrade
because other databases of the same server may still use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ff4caa929018"
down_revision: str | None = "2d577264e7de"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "salesbot_agent_ro"
READABLE = ("stores", "members", "orders", "order_items", "coupons", "campaigns")


def upgrade() -> None:
    """Create the retail and kb schemas, their tables, and the read-only role's grants."""
    op.execute("CREATE SCHEMA IF NOT EXISTS retail")
    op.execute("CREATE SCHEMA IF NOT EXISTS kb")
    money = sa.Numeric(12, 2)
    op.create_table(
        "stores",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("city", sa.String(40), nullable=False),
        schema="retail",
    )
    op.create_table(
        "members",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("store_id", sa.BigInteger(), sa.ForeignKey("retail.stores.id"), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("total_spent", money, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema="retail",
    )
    op.create_index("ix_retail_members_store_id", "members", ["store_id"], schema="retail")
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("store_id", sa.BigInteger(), sa.ForeignKey("retail.stores.id"), nullable=False),
        sa.Column("member_id", sa.BigInteger(), sa.ForeignKey("retail.members.id"), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pay_status", sa.SmallInteger(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("amount", money, nullable=False),
        sa.Column("original_amount", money, nullable=False),
        schema="retail",
    )
    op.create_index("ix_retail_orders_paid_at", "orders", ["paid_at"], schema="retail")
    op.create_index("ix_retail_orders_store_id_paid_at", "orders", ["store_id", "paid_at"], schema="retail")
    op.create_index("ix_retail_orders_member_id_paid_at", "orders", ["member_id", "paid_at"], schema="retail")
    op.create_table(
        "order_items",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("order_id", sa.BigInteger(), sa.ForeignKey("retail.orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("price", money, nullable=False),
        schema="retail",
    )
    op.create_index("ix_retail_order_items_order_id", "order_items", ["order_id"], schema="retail")
    op.create_table(
        "coupons",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("threshold", money, nullable=False),
        sa.Column("value", money, nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        schema="retail",
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("budget", money, nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("plan_json", postgresql.JSONB(), nullable=False),
        sa.Column("coupon_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        schema="retail",
    )
    op.create_table(
        "action_logs",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("action_type", sa.String(32), nullable=False),
        sa.Column("request_json", postgresql.JSONB(), nullable=False),
        sa.Column("response_json", postgresql.JSONB(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        schema="retail",
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("source", sa.String(300), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("content_sha", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        schema="kb",
    )
    op.create_table(
        "chunks",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("document_id", sa.BigInteger(), sa.ForeignKey("kb.documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(32)), nullable=False),
        schema="kb",
    )
    op.create_index("ix_kb_chunks_document_id", "chunks", ["document_id"], schema="kb")
    op.execute("CREATE INDEX ix_kb_chunks_text_trgm ON kb.chunks USING gin ((title || ' ' || content) gin_trgm_ops)")
    op.execute(
        "DO $$ BEGIN "
        "IF EXISTS (SELECT 1 FROM pg_type WHERE typname = 'vector') THEN "
        "ALTER TABLE kb.chunks ADD COLUMN embedding vector(384) NOT NULL; "
        "CREATE INDEX ix_kb_chunks_embedding_hnsw ON kb.chunks USING hnsw (embedding vector_cosine_ops); "
        "ELSE ALTER TABLE kb.chunks ADD COLUMN embedding float8[] NOT NULL; END IF; END $$"
    )
    # Concurrent migrations of several databases on one server may race to create the cluster-wide role.
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"CREATE ROLE {ROLE} NOLOGIN; END IF; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA retail TO {ROLE}")
    op.execute(f"GRANT SELECT ON {', '.join(f'retail.{t}' for t in READABLE)} TO {ROLE}")
    # The migrating user must be able to SET ROLE to it (superusers can anyway).
    op.execute(
        f"DO $$ BEGIN GRANT {ROLE} TO CURRENT_USER; "
        "EXCEPTION WHEN others THEN RAISE NOTICE 'could not grant the agent role to the current user'; END $$"
    )


def downgrade() -> None:
    """Drop the retail and kb schemas (the cluster-wide role stays, see the module docstring)."""
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN REVOKE ALL ON SCHEMA retail FROM {ROLE}; END IF; END $$"
    )
    op.execute("DROP SCHEMA IF EXISTS kb CASCADE")
    op.execute("DROP SCHEMA IF EXISTS retail CASCADE")
