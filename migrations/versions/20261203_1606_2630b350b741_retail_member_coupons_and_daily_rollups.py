"""retail: member coupons (issued / redeemed) and the daily rollups of the store agent's semantic layer

Revision ID: 2630b350b741
Revises: c155c71932ba
Create Date: 2026-12-03 16:05:31.378345+00:00

`member_coupons` holds one row per coupon issued to a member, with the order that redeemed it (券核销率).
`daily_store_sales` and `daily_coupon_stats` are rollups rebuilt by `backend.agent.rollups.refresh_rollups`
(`salesbot seed retail` refreshes them); `rollup_state` records when and up to which source rows, so the
semantic layer uses a rollup only while it is complete. The agent's read-only role may read all but the state.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2630b350b741"
down_revision: str | None = "c155c71932ba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "salesbot_agent_ro"
READABLE = ("member_coupons", "daily_store_sales", "daily_coupon_stats")


def upgrade() -> None:
    """Create the member coupon table, the two daily rollups and their state, and grant reads to the agent role."""
    money = sa.Numeric(precision=12, scale=2)
    total = sa.Numeric(precision=16, scale=2)
    op.create_table(
        "member_coupons",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("store_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign", sa.String(length=40), nullable=False),
        sa.Column("threshold", money, nullable=False),
        sa.Column("value", money, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(redeemed_at IS NULL) = (order_id IS NULL)", name=op.f("ck_member_coupons_redeemed_with_order")
        ),
        sa.CheckConstraint("expires_at > issued_at", name=op.f("ck_member_coupons_expires_after_issue")),
        sa.ForeignKeyConstraint(["member_id"], ["retail.members.id"], name=op.f("fk_member_coupons_member_id_members")),
        sa.ForeignKeyConstraint(["order_id"], ["retail.orders.id"], name=op.f("fk_member_coupons_order_id_orders")),
        sa.ForeignKeyConstraint(["store_id"], ["retail.stores.id"], name=op.f("fk_member_coupons_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_coupons")),
        schema="retail",
    )
    op.create_index("ix_retail_member_coupons_issued_at", "member_coupons", ["issued_at"], schema="retail")
    op.create_index(
        "ix_retail_member_coupons_member_id_issued_at", "member_coupons", ["member_id", "issued_at"], schema="retail"
    )
    op.create_index(
        "ix_retail_member_coupons_store_id_issued_at", "member_coupons", ["store_id", "issued_at"], schema="retail"
    )
    op.create_index("uq_retail_member_coupons_order_id", "member_coupons", ["order_id"], unique=True, schema="retail")
    op.create_table(
        "daily_store_sales",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("member_level", sa.SmallInteger(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("paid_orders", sa.Integer(), nullable=False),
        sa.Column("gmv", total, nullable=False),
        sa.Column("original_amount", total, nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["retail.stores.id"], name=op.f("fk_daily_store_sales_store_id_stores")),
        sa.PrimaryKeyConstraint("day", "store_id", "channel", "member_level", name=op.f("pk_daily_store_sales")),
        schema="retail",
    )
    op.create_table(
        "daily_coupon_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.BigInteger(), nullable=False),
        sa.Column("member_level", sa.SmallInteger(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("redeemed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["retail.stores.id"], name=op.f("fk_daily_coupon_stats_store_id_stores")),
        sa.PrimaryKeyConstraint("day", "store_id", "member_level", name=op.f("pk_daily_coupon_stats")),
        schema="retail",
    )
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("orders_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("coupons_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_state")),
        schema="retail",
    )
    # The role exists since ff4caa929018 (created there when missing).
    op.execute(f"GRANT SELECT ON {', '.join(f'retail.{t}' for t in READABLE)} TO {ROLE}")


def downgrade() -> None:
    """Drop the rollups and the member coupon table."""
    op.drop_table("rollup_state", schema="retail")
    op.drop_table("daily_coupon_stats", schema="retail")
    op.drop_table("daily_store_sales", schema="retail")
    op.drop_index("uq_retail_member_coupons_order_id", table_name="member_coupons", schema="retail")
    op.drop_index("ix_retail_member_coupons_store_id_issued_at", table_name="member_coupons", schema="retail")
    op.drop_index("ix_retail_member_coupons_member_id_issued_at", table_name="member_coupons", schema="retail")
    op.drop_index("ix_retail_member_coupons_issued_at", table_name="member_coupons", schema="retail")
    op.drop_table("member_coupons", schema="retail")
