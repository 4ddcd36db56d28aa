"""Knowledge base: Markdown documents chunked, embedded, stored in pgvector, retrieved by vector + pg_trgm."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.agent.embedder import Embedder, embed_passages, embed_queries
from backend.agent.vector_store import ChromaStore, configured_store

STARTER_DIR = Path(__file__).resolve().parent / "kb_starter"
MAX_CHUNK_CHARS = 600
RRF_K = 60
LEXICON = (
    "GMV",
    "订单数",
    "客单价",
    "复购率",
    "复购",
    "支付成功率",
    "支付失败",
    "新客",
    "老客",
    "会员",
    "优惠券",
    "满减",
    "折扣",
    "第二件半价",
    "会员日",
    "积分",
    "预算",
    "核销",
    "羊毛党",
    "叠加",
    "审批",
    "触达",
    "外卖",
    "缺货",
    "价格",
    "优惠率",
    "流失",
    "门店",
    "渠道",
    "活动",
    "风险",
)
CANDIDATES = 20
SAME_OWNER = "organization_id IS NOT DISTINCT FROM CAST(:org AS uuid)"


@dataclass
class Document:
    """A Markdown document: `# title`, an optional `tags: a, b` line, then `##` sections."""

    source: str
    title: str
    content: str
    tags: list[str]

    @property
    def sha(self) -> str:
        """Hash of what is embedded, to skip unchanged documents on reload."""
        return hashlib.sha256(f"{self.title}\n{self.tags}\n{self.content}".encode()).hexdigest()


@dataclass
class Hit:
    """A retrieved chunk with its scores."""

    chunk_id: int
    title: str
    content: str
    tags: list[str]
    score: float
    vector_score: float | None = None
    keyword_score: float | None = None
    ref: str = field(default="")

    def as_dict(self) -> dict[str, Any]:
        """JSON form kept in the graph state."""
        return {
            "ref": self.ref or f"kb:{self.chunk_id}",
            "chunk_id": self.chunk_id,
            "title": self.title,
            "content": self.content,
            "tags": self.tags,
            "score": round(self.score, 5),
            "vector_score": None if self.vector_score is None else round(self.vector_score, 4),
            "keyword_score": None if self.keyword_score is None else round(self.keyword_score, 4),
        }


def keywords(query: str) -> list[str]:
    """Domain terms found in the question, else its CJK/word segments of 2-8 characters."""
    found = [term for term in LEXICON if term.lower() in query.lower()]
    # Drop terms contained in longer found terms (复购 inside 复购率).
    found = [t for t in found if not any(t != other and t in other for other in found)]
    if found:
        return found[:8]
    segments = re.split(r"[\s，。？！、,.?!；;：:的了吗呢怎么如何什么是和与及]+", query)
    return [s for s in segments if 2 <= len(s) <= 8][:8]


def parse_markdown(source: str, body: str) -> Document:
    """Read title and tags from a Markdown file's head."""
    lines = body.strip().splitlines()
    title = source
    tags: list[str] = []
    rest: list[str] = []
    for line in lines:
        if title == source and line.startswith("# "):
            title = line[2:].strip()
        elif not tags and line.lower().startswith("tags:"):
            tags = [t.strip() for t in line.split(":", 1)[1].split(",") if t.strip()]
        else:
            rest.append(line)
    return Document(source, title, "\n".join(rest).strip(), tags)


def read_directory(directory: Path) -> list[Document]:
    """Every *.md file of a directory, sorted by name."""
    return [parse_markdown(path.name, path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.md"))]


def chunk(document: Document) -> list[tuple[str, str]]:
    """(chunk title, chunk text) per `##` section, long sections split on paragraphs."""
    sections = re.split(r"^##\s+", document.content, flags=re.M)
    chunks: list[tuple[str, str]] = []
    for section in sections:
        if not section.strip():
            continue
        heading, _, body = section.partition("\n")
        title = f"{document.title} / {heading.strip()}" if body else document.title
        text_body = body.strip() if body else heading.strip()
        piece = ""
        for paragraph in re.split(r"\n\s*\n", text_body):
            if piece and len(piece) + len(paragraph) > MAX_CHUNK_CHARS:
                chunks.append((title, piece.strip()))
                piece = ""
            piece += paragraph.strip() + "\n"
        if piece.strip():
            chunks.append((title, piece.strip()))
    return chunks


async def embedding_kind(conn: AsyncConnection) -> str:
    """'vector' when kb.chunks.embedding is pgvector, 'array' when it is the float8[] fallback."""
    kind = await conn.scalar(
        text(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'kb.chunks'::regclass AND attname = 'embedding'"
        )
    )
    return "vector" if str(kind).startswith("vector") else "array"


def _vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vector) + "]"


async def load_documents(
    engine: AsyncEngine,
    embedder: Embedder,
    documents: list[Document],
    *,
    organization_id: uuid.UUID | None = None,
    store: ChromaStore | Literal["configured"] | None = "configured",
) -> dict[str, int]:
    """Insert or replace documents (unchanged ones are skipped); `organization_id` None shares them with all."""
    counts = {"documents": 0, "chunks": 0, "skipped": 0}
    owner = {"org": organization_id}
    chroma = configured_store() if store == "configured" else store
    for document in documents:
        async with engine.begin() as conn:
            existing = (
                await conn.execute(
                    text(f"SELECT id, content_sha, embedder FROM kb.documents WHERE source = :source AND {SAME_OWNER}"),
                    {"source": document.source, **owner},
                )
            ).first()
            # Unchanged documents are skipped, unless embedded by another model or Chroma lacks their vectors.
            if (
                existing is not None
                and existing.content_sha == document.sha
                and existing.embedder == embedder.name
                and (
                    chroma is None
                    or not await chroma.missing(
                        embedder.name, embedder.dimensions, await _chunk_ids(conn, int(existing.id))
                    )
                )
            ):
                counts["skipped"] += 1
                continue
            pieces = chunk(document)
            vectors = await embed_passages(embedder, [f"{title}\n{body}" for title, body in pieces])
            kind = await embedding_kind(conn)
            if existing is not None and chroma is not None:
                await chroma.delete_document(embedder.name, embedder.dimensions, int(existing.id))
            await conn.execute(
                text(f"DELETE FROM kb.documents WHERE source = :source AND {SAME_OWNER}"),
                {"source": document.source, **owner},
            )
            document_id = await conn.scalar(
                text(
                    "INSERT INTO kb.documents (organization_id, source, title, content, tags, content_sha, embedder) "
                    "VALUES (:org, :source, :title, :content, :tags, :sha, :embedder) RETURNING id"
                ),
                {
                    **owner,
                    "source": document.source,
                    "title": document.title,
                    "content": document.content,
                    "tags": document.tags,
                    "sha": document.sha,
                    "embedder": embedder.name,
                },
            )
            value = "CAST(:embedding AS vector)" if kind == "vector" else ":embedding"
            await conn.execute(
                text(
                    "INSERT INTO kb.chunks (document_id, organization_id, ordinal, title, content, tags, embedder, embedding) "
                    f"VALUES (:document_id, :org, :ordinal, :title, :content, :tags, :embedder, {value})"
                ),
                [
                    {
                        **owner,
                        "document_id": document_id,
                        "ordinal": i,
                        "title": title,
                        "content": body,
                        "tags": document.tags,
                        "embedder": embedder.name,
                        "embedding": _vector_literal(vec) if kind == "vector" else vec,
                    }
                    for i, ((title, body), vec) in enumerate(zip(pieces, vectors, strict=True))
                ],
            )
            if chroma is not None:
                # Inside the transaction: a Chroma failure rolls PostgreSQL back; orphans left by a failed commit
                # are never returned, as retrieval joins Chroma's ids to kb.chunks.
                await chroma.upsert(
                    embedder.name,
                    embedder.dimensions,
                    chunk_ids=await _chunk_ids(conn, int(document_id)),
                    vectors=vectors,
                    document_id=int(document_id),
                    organization_id=organization_id,
                    tags=document.tags,
                )
            counts["documents"] += 1
            counts["chunks"] += len(pieces)
    return counts


async def _chunk_ids(conn: AsyncConnection, document_id: int) -> list[int]:
    """A document's chunk ids in chunk order."""
    rows = await conn.execute(
        text("SELECT id FROM kb.chunks WHERE document_id = :d ORDER BY ordinal"), {"d": document_id}
    )
    return [int(r[0]) for r in rows]


async def remove_document(
    engine: AsyncEngine,
    embedder: Embedder,
    source: str,
    *,
    organization_id: uuid.UUID | None = None,
    store: ChromaStore | Literal["configured"] | None = "configured",
) -> bool:
    """Delete a document and its chunks (and their Chroma vectors); False when there was none."""
    chroma = configured_store() if store == "configured" else store
    async with engine.begin() as conn:
        document_id = await conn.scalar(
            text(f"DELETE FROM kb.documents WHERE source = :source AND {SAME_OWNER} RETURNING id"),
            {"source": source, "org": organization_id},
        )
        if document_id is not None and chroma is not None:
            await chroma.delete_document(embedder.name, embedder.dimensions, int(document_id))
    return document_id is not None


async def chunk_count(engine: AsyncEngine) -> int:
    """Chunks stored."""
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM kb.chunks")) or 0)


def like_pattern(term: str) -> str:
    """`%term%` with LIKE's wildcard characters in the term matched literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_KINDS: dict[str, str] = {}


async def _cached_kind(engine: AsyncEngine, conn: AsyncConnection) -> str:
    """embedding_kind per database, looked up once per process (it only changes by migration)."""
    key = engine.url.render_as_string(hide_password=True)
    if key not in _KINDS:
        _KINDS[key] = await embedding_kind(conn)
    return _KINDS[key]


def _fused_sql(owner_filter: str, terms: int, *, dimensions: int | None) -> str:
    """One statement: vector candidates, keyword candidates, reciprocal-rank fusion and the chunks' text.

    `dimensions` given: pgvector ranks the embedder's own chunks, through the partial HNSW index of that dimension
    (the cast and the predicate must be literal to match it); None: the candidates come as arrays.
    """
    if dimensions is not None:
        as_vector = f"CAST(embedding AS vector({dimensions}))"
        distance = f"{as_vector} <=> CAST(:v AS vector({dimensions}))"
        vector = (
            f"SELECT id, 1 - ({distance}) AS s FROM kb.chunks "
            f"WHERE vector_dims(embedding) = {dimensions} AND embedder = :embedder {owner_filter} "
            f"ORDER BY {distance} LIMIT :n"
        )
    else:  # similarities computed by the application (float8[] fallback)
        # (or by Chroma); the owner filter is applied again here, so another organisation's chunk never comes back.
        vector = (
            "SELECT u.id, u.s FROM unnest(CAST(:vids AS BIGINT[]), CAST(:vscores AS FLOAT8[])) AS u(id, s) "
            f"JOIN kb.chunks ON kb.chunks.id = u.id WHERE TRUE {owner_filter}"
        )
    if terms:
        # LIKE ANY can use the pg_trgm GIN index (terms of 3+ characters); the score is the share of terms found.
        text_of = "(title || ' ' || content)"
        found = " + ".join(f"CAST({text_of} LIKE :p{i} AS INT)" for i in range(terms))
        keyword = (
            f"SELECT id, CAST({found} AS FLOAT8) / {terms} AS s FROM kb.chunks "
            f"WHERE {text_of} LIKE ANY (CAST(:patterns AS TEXT[])) {owner_filter} ORDER BY s DESC, id LIMIT :n"
        )
    else:
        keyword = "SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS FLOAT8) AS s WHERE FALSE"
    return (
        f"WITH v AS ({vector}), k AS ({keyword}), "
        "vr AS (SELECT id, s, row_number() OVER (ORDER BY s DESC, id) AS r FROM v), "
        "kr AS (SELECT id, s, row_number() OVER (ORDER BY s DESC, id) AS r FROM k), "
        "f AS (SELECT COALESCE(vr.id, kr.id) AS id, vr.s AS vs, kr.s AS ks, vr.r AS vrank, kr.r AS krank, "
        f"COALESCE(CAST(1 AS FLOAT8) / ({RRF_K} + vr.r), 0) + COALESCE(CAST(1 AS FLOAT8) / ({RRF_K} + kr.r), 0) AS score "
        "FROM vr FULL JOIN kr ON kr.id = vr.id) "
        "SELECT f.id, c.title, c.content, c.tags, f.score, f.vs, f.ks FROM f JOIN kb.chunks AS c ON c.id = f.id "
        "ORDER BY f.score DESC, f.vrank NULLS LAST, f.krank NULLS LAST LIMIT :k"
    )


async def retrieve(
    engine: AsyncEngine,
    embedder: Embedder,
    query: str,
    *,
    k: int = 5,
    tags: list[str] | None = None,
    organization_id: uuid.UUID | None = None,
    store: ChromaStore | Literal["configured"] | None = "configured",
) -> list[Hit]:
    """Top-k shared or the organisation's chunks by reciprocal-rank fusion of vector and pg_trgm similarity."""
    # The question's vector comes from the query cache when the same (normalised) question was asked recently;
    # candidates, fusion and the chunks' text come back in one statement.
    [vector] = await embed_queries(embedder, [query])
    owner_filter = "AND (organization_id IS NULL OR organization_id = CAST(:org AS uuid))"
    if tags:
        owner_filter += " AND tags && CAST(:tags AS varchar[])"
    terms = keywords(query)
    params: dict[str, Any] = {"n": CANDIDATES, "k": k, "tags": tags, "org": organization_id, "embedder": embedder.name}
    params["patterns"] = [like_pattern(term) for term in terms]
    params.update({f"p{i}": pattern for i, pattern in enumerate(params["patterns"])})
    chroma = configured_store() if store == "configured" else store
    async with engine.connect() as conn:
        pgvector = await _cached_kind(engine, conn) == "vector" and chroma is None
        if chroma is not None:
            # Vector side from Chroma (filtered by owner and tags there); keyword side and fusion in PostgreSQL.
            ranked = await chroma.query(embedder.name, vector, n=CANDIDATES, organization_id=organization_id, tags=tags)
            params["vids"], params["vscores"] = [i for i, _ in ranked], [s for _, s in ranked]
        elif pgvector:
            params["v"] = _vector_literal(vector)
        else:
            rows = (
                await conn.execute(
                    text(f"SELECT id, embedding FROM kb.chunks WHERE embedder = :embedder {owner_filter}"), params
                )
            ).all()
            matrix = np.array([r[1] for r in rows], dtype=np.float32).reshape(len(rows), -1)
            scores = [float(s) for s in matrix @ np.array(vector, dtype=np.float32)] if rows else []
            ranked = sorted(zip((int(r[0]) for r in rows), scores, strict=True), key=lambda p: -p[1])[:CANDIDATES]
            params["vids"], params["vscores"] = [i for i, _ in ranked], [s for _, s in ranked]
        rows = (
            await conn.execute(
                text(_fused_sql(owner_filter, len(terms), dimensions=embedder.dimensions if pgvector else None)), params
            )
        ).all()
    return [
        Hit(
            int(r.id),
            r.title,
            r.content,
            list(r.tags),
            float(r.score),
            None if r.vs is None else float(r.vs),
            None if r.ks is None else float(r.ks),
            ref=f"kb:{int(r.id)}",
        )
        for r in rows
    ]
