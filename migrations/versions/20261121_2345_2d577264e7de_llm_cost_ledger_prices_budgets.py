"""llm cost: price table (seeded with list prices), append-only ledger, rollups, budgets, raised alerts

Revision ID: 2d577264e7de
Revises: bef5955c3fbd
Create Date: 2026-11-21 23:45:31.445005+00:00

Seed prices are data of this revision (not a start-up seeding function): they are the state of the price
table at the time this schema shipped, later changes are new effective-dated rows added through
POST /api/cost/prices, and a revision keeps the seed reproducible and out of the request path.

List prices in CNY per 1M tokens, as published on the providers' pricing pages in 2025 (verify before
relying on them; finance can add newer rows at any time):
- DeepSeek (api-docs.deepseek.com, pricing since V3.2 on 2025-09-29): deepseek-chat and deepseek-reasoner
  input 2.00 (cache miss), cached input 0.20 (cache hit), output 3.00.
- Alibaba Cloud Model Studio / DashScope (mainland China region, non-thinking mode): qwen-plus 0.80 / 2.00
  for prompts up to 128K tokens (tiers: up to 256K 2.40 / 20.00, up to 1M 4.80 / 48.00), qwen-turbo
  0.30 / 0.60, qwen-max 2.40 / 9.60; implicit-cache hits are billed at 20% of the input price.
- Volcengine Ark: doubao-pro-32k input 0.80, output 2.00, cache hits assumed 0.16 (20% of input).
- Moonshot: moonshot-v1-8k input 2.00, output 10.00; no cache discount assumed.
- OpenAI gpt-4o-mini: USD 0.15 input, 0.075 cached input, 0.60 output, converted at 7.20 CNY per USD:
  1.08 / 0.54 / 4.32.
All seed rows take effect from 2025-01-01 00:00 China time; earlier price history is not modelled.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2d577264e7de"
down_revision: str | None = "bef5955c3fbd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED_FROM = datetime(2025, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
QWEN_PLUS_TIERS = [
    {"max_input_tokens": 131072, "input": "0.8", "cached_input": "0.16", "output": "2"},
    {"max_input_tokens": 262144, "input": "2.4", "cached_input": "0.48", "output": "20"},
    {"max_input_tokens": 1048576, "input": "4.8", "cached_input": "0.96", "output": "48"},
]
# (provider, model, input, cached input, output, tiers, note) in CNY per 1M tokens.
SEED_PRICES = [
    ("deepseek", "deepseek-chat", "2", "0.2", "3", None, "DeepSeek list price (V3.2, 2025-09-29)"),
    ("deepseek", "deepseek-reasoner", "2", "0.2", "3", None, "DeepSeek list price (V3.2, 2025-09-29)"),
    ("qwen", "qwen-plus", "0.8", "0.16", "2", QWEN_PLUS_TIERS, "DashScope list price, non-thinking"),
    ("qwen", "qwen-turbo", "0.3", "0.06", "0.6", None, "DashScope list price, non-thinking"),
    ("qwen", "qwen-max", "2.4", "0.48", "9.6", None, "DashScope list price"),
    ("doubao", "doubao-pro-32k", "0.8", "0.16", "2", None, "Volcengine Ark list price; cache hit assumed 20%"),
    ("moonshot", "moonshot-v1-8k", "2", "2", "10", None, "Moonshot list price; no cache discount assumed"),
    ("openai", "gpt-4o-mini", "1.08", "0.54", "4.32", None, "USD 0.15/0.075/0.60 at 7.20 CNY per USD"),
]
APPEND_ONLY = """
CREATE FUNCTION cost_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: add a new row instead of updating', TG_TABLE_NAME;
END $$
"""


def upgrade() -> None:
    """Create the cost tables, forbid updates of ledger and price rows, seed list prices."""
    op.create_table(
        "cost_budgets",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.Uuid(), nullable=True),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("quota_kind", sa.String(length=8), nullable=False),
        sa.Column("quota", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("soft_threshold", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("hard_action", sa.String(length=16), nullable=False),
        sa.Column("downgrade_model", sa.String(length=120), nullable=True),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(scope = 'organization') = (scope_id is null)", name=op.f("ck_cost_budgets_scope_id_matches")
        ),
        sa.CheckConstraint(
            "hard_action in ('alert','downgrade_model','stop_ai','pause_sop')",
            name=op.f("ck_cost_budgets_action_known"),
        ),
        sa.CheckConstraint("period in ('daily','monthly')", name=op.f("ck_cost_budgets_period_known")),
        sa.CheckConstraint("quota_kind in ('money','tokens')", name=op.f("ck_cost_budgets_quota_kind_known")),
        sa.CheckConstraint("scope in ('organization','account','user')", name=op.f("ck_cost_budgets_scope_known")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_cost_budgets_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_budgets")),
    )
    op.create_index(op.f("ix_cost_budgets_organization_id"), "cost_budgets", ["organization_id"], unique=False)
    op.create_table(
        "cost_conversation_rollups",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("failed_calls", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_cost_conversation_rollups_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_conversation_rollups")),
        sa.UniqueConstraint("organization_id", "day", "conversation_id", name="uq_cost_conv_rollups_key"),
    )
    op.create_table(
        "cost_daily_rollups",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("failed_calls", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_cost_daily_rollups_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_daily_rollups")),
        sa.UniqueConstraint(
            "organization_id",
            "day",
            "provider",
            "model",
            "origin",
            "account_id",
            "user_id",
            name="uq_cost_daily_rollups_key",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_table(
        "cost_prices",
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("input_per_million", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("cached_input_per_million", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("output_per_million", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'CNY'"), nullable=False),
        sa.Column("tiers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("note", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_cost_prices_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_prices")),
        sa.UniqueConstraint(
            "organization_id",
            "provider",
            "model",
            "effective_from",
            name=op.f("uq_cost_prices_organization_id_provider_model_effective_from"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("ix_cost_prices_model_effective", "cost_prices", ["model", "effective_from"], unique=False)
    op.create_table(
        "cost_budget_alerts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("used", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("quota", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["cost_budgets.id"],
            name=op.f("fk_cost_budget_alerts_budget_id_cost_budgets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_budget_alerts")),
        sa.UniqueConstraint(
            "budget_id", "window_start", "level", name=op.f("uq_cost_budget_alerts_budget_id_window_start_level")
        ),
    )
    op.create_table(
        "cost_ledger",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'CNY'"), nullable=False),
        sa.Column("price_id", sa.Uuid(), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status in ('ok','error','timeout','fallback')", name=op.f("ck_cost_ledger_status_known")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_cost_ledger_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["price_id"], ["cost_prices.id"], name=op.f("fk_cost_ledger_price_id_cost_prices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_ledger")),
        sa.UniqueConstraint("request_id", name=op.f("uq_cost_ledger_request_id")),
    )
    op.create_index("ix_cost_ledger_org_created", "cost_ledger", ["organization_id", "created_at", "id"], unique=False)
    op.execute(APPEND_ONLY)
    for table in ("cost_ledger", "cost_prices"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cost_refuse_update()"
        )
    prices = sa.table(
        "cost_prices",
        sa.column("id", sa.Uuid()),
        sa.column("provider", sa.String()),
        sa.column("model", sa.String()),
        sa.column("effective_from", sa.DateTime(timezone=True)),
        sa.column("input_per_million", sa.Numeric()),
        sa.column("cached_input_per_million", sa.Numeric()),
        sa.column("output_per_million", sa.Numeric()),
        sa.column("currency", sa.String()),
        sa.column("tiers", postgresql.JSONB(none_as_null=True)),
        sa.column("note", sa.Text()),
    )
    op.bulk_insert(
        prices,
        [
            {
                "id": uuid.uuid4(),
                "provider": provider,
                "model": model,
                "effective_from": SEED_FROM,
                "input_per_million": Decimal(rate_in),
                "cached_input_per_million": Decimal(rate_cached),
                "output_per_million": Decimal(rate_out),
                "currency": "CNY",
                "tiers": tiers,
                "note": note,
            }
            for provider, model, rate_in, rate_cached, rate_out, tiers, note in SEED_PRICES
        ],
    )


def downgrade() -> None:
    """Drop the cost tables and the append-only trigger function."""
    op.drop_index("ix_cost_ledger_org_created", table_name="cost_ledger")
    op.drop_table("cost_ledger")
    op.drop_table("cost_budget_alerts")
    op.drop_index("ix_cost_prices_model_effective", table_name="cost_prices")
    op.drop_table("cost_prices")
    op.drop_table("cost_daily_rollups")
    op.drop_table("cost_conversation_rollups")
    op.drop_index(op.f("ix_cost_budgets_organization_id"), table_name="cost_budgets")
    op.drop_table("cost_budgets")
    op.execute("DROP FUNCTION IF EXISTS cost_refuse_update()")
