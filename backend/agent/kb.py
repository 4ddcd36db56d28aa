"""Knowledge base: Markdown documents chunked, embedded, stored in pgvector, retrieved by vector + pg_trgm."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.agent.embedder import Embedder, embed_passages, embed_queries

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
) -> dict[str, int]:
    """Insert or replace documents (unchanged ones are skipped); `organization_id` None shares them with all."""
    counts = {"documents": 0, "chunks": 0, "skipped": 0}
    owner = {"org": organization_id}
    for document in documents:
        async with engine.begin() as conn:
            existing = await conn.scalar(
                text(f"SELECT content_sha FROM kb.documents WHERE source = :source AND {SAME_OWNER}"),
                {"source": document.source, **owner},
            )
            if existing == document.sha:
                counts["skipped"] += 1
                continue
            pieces = chunk(document)
            vectors = await embed_passages(embedder, [f"{title}\n{body}" for title, body in pieces])
            kind = await embedding_kind(conn)
            await conn.execute(
                text(f"DELETE FROM kb.documents WHERE source = :source AND {SAME_OWNER}"),
                {"source": document.source, **owner},
            )
            document_id = await conn.scalar(
                text(
                    "INSERT INTO kb.documents (organization_id, source, title, content, tags, content_sha) "
                    "VALUES (:org, :source, :title, :content, :tags, :sha) RETURNING id"
                ),
                {
                    **owner,
                    "source": document.source,
                    "title": document.title,
                    "content": document.content,
                    "tags": document.tags,
                    "sha": document.sha,
                },
            )
            value = "CAST(:embedding AS vector)" if kind == "vector" else ":embedding"
            await conn.execute(
                text(
                    "INSERT INTO kb.chunks (document_id, organization_id, ordinal, title, content, tags, embedding) "
                    f"VALUES (:document_id, :org, :ordinal, :title, :content, :tags, {value})"
                ),
                [
                    {
                        **owner,
                        "document_id": document_id,
                        "ordinal": i,
                        "title": title,
                        "content": body,
                        "tags": document.tags,
                        "embedding": _vector_literal(vec) if kind == "vector" else vec,
                    }
                    for i, ((title, body), vec) in enumerate(zip(pieces, vectors, strict=True))
                ],
            )
            counts["documents"] += 1
            counts["chunks"] += len(pieces)
    return counts


async def chunk_count(engine: AsyncEngine) -> int:
    """Chunks stored."""
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM kb.chunks")) or 0)


async def retrieve(
    engine: AsyncEngine,
    embedder: Embedder,
    query: str,
    *,
    k: int = 5,
    tags: list[str] | None = None,
    organization_id: uuid.UUID | None = None,
) -> list[Hit]:
    """Top-k shared or the organisation's chunks by reciprocal-rank fusion of vector and pg_trgm similarity."""
    [vector] = await embed_queries(embedder, [query])
    tag_filter = "AND (organization_id IS NULL OR organization_id = CAST(:org AS uuid))"
    if tags:
        tag_filter += " AND tags && CAST(:tags AS varchar[])"
    params: dict[str, Any] = {"q": query, "n": CANDIDATES, "tags": tags, "org": organization_id}
    vector_rows: Sequence[Any]
    async with engine.connect() as conn:
        kind = await embedding_kind(conn)
        if kind == "vector":
            params["v"] = _vector_literal(vector)
            vector_rows = (
                await conn.execute(
                    text(
                        "SELECT id, 1 - (embedding <=> CAST(:v AS vector)) AS s FROM kb.chunks "
                        f"WHERE TRUE {tag_filter} ORDER BY embedding <=> CAST(:v AS vector) LIMIT :n"
                    ),
                    params,
                )
            ).all()
        else:
            rows = (
                await conn.execute(text(f"SELECT id, embedding FROM kb.chunks WHERE TRUE {tag_filter}"), params)
            ).all()
            matrix = np.array([r[1] for r in rows], dtype=np.float32).reshape(len(rows), -1)
            scores = [float(s) for s in matrix @ np.array(vector, dtype=np.float32)] if rows else []
            ranked = sorted(zip((int(r[0]) for r in rows), scores, strict=True), key=lambda p: -p[1])
            vector_rows = ranked[:CANDIDATES]
        params["patterns"] = [f"%{term}%" for term in keywords(query)]
        keyword_rows: Sequence[Any] = []
        if params["patterns"]:
            # LIKE ANY is served by the pg_trgm GIN index for terms of 3+ characters.
            keyword_rows = (
                await conn.execute(
                    text(
                        "SELECT id, CAST((SELECT count(*) FROM unnest(CAST(:patterns AS text[])) AS p "
                        "WHERE (title || ' ' || content) LIKE p) AS float) / cardinality(CAST(:patterns AS text[])) AS s "
                        "FROM kb.chunks WHERE (title || ' ' || content) LIKE ANY (CAST(:patterns AS text[])) "
                        f"{tag_filter} ORDER BY s DESC, id LIMIT :n"
                    ),
                    params,
                )
            ).all()
        fused: dict[int, float] = {}
        vscores = {int(r[0]): float(r[1]) for r in vector_rows}
        kscores = {int(r[0]): float(r[1]) for r in keyword_rows}
        for rank, (chunk_id, _) in enumerate(vector_rows):
            fused[int(chunk_id)] = fused.get(int(chunk_id), 0.0) + 1 / (RRF_K + rank + 1)
        for rank, (chunk_id, _) in enumerate(keyword_rows):
            fused[int(chunk_id)] = fused.get(int(chunk_id), 0.0) + 1 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda p: -p[1])[:k]
        if not best:
            return []
        details = {
            int(r[0]): r
            for r in (
                await conn.execute(
                    text("SELECT id, title, content, tags FROM kb.chunks WHERE id = ANY(:ids)"),
                    {"ids": [i for i, _ in best]},
                )
            ).all()
        }
    return [
        Hit(
            chunk_id,
            details[chunk_id][1],
            details[chunk_id][2],
            list(details[chunk_id][3]),
            score,
            vscores.get(chunk_id),
            kscores.get(chunk_id),
            ref=f"kb:{chunk_id}",
        )
        for chunk_id, score in best
    ]
