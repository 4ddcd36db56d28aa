"""Knowledge base: Markdown parsing and chunking, hybrid retrieval, reloads that skip unchanged documents."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backend.agent import kb
from backend.agent.embedder import QueryCache, embed_passages, embed_queries, get_embedder
from backend.core.runtime import migrate

DOC = """# 示例文档
tags: diagnosis, metric

## 第一节
第一段。

## 第二节
第二段。
"""


def test_markdown_head_gives_title_and_tags() -> None:
    document = kb.parse_markdown("x.md", DOC)
    assert (document.title, document.tags) == ("示例文档", ["diagnosis", "metric"])


def test_each_section_becomes_a_chunk_titled_by_document_and_heading() -> None:
    chunks = kb.chunk(kb.parse_markdown("x.md", DOC))
    assert chunks == [("示例文档 / 第一节", "第一段。"), ("示例文档 / 第二节", "第二段。")]


def test_long_sections_are_split_on_paragraphs() -> None:
    body = "\n\n".join("段落" * 200 for _ in range(5))
    chunks = kb.chunk(kb.Document("y.md", "长文", f"## 长节\n{body}", ["risk"]))
    assert len(chunks) == 5
    assert all(len(text) <= kb.MAX_CHUNK_CHARS for _, text in chunks)


def test_starter_kb_covers_the_four_tags() -> None:
    tags = {tag for document in kb.read_directory(kb.STARTER_DIR) for tag in document.tags}
    assert tags == {"metric", "diagnosis", "campaign", "risk"}


async def test_repeat_rate_question_retrieves_repeat_rate_diagnosis_first(starter_kb) -> None:
    hits = await kb.retrieve(starter_kb, get_embedder(), "复购率下降的原因怎么验证", k=3, tags=["diagnosis"])
    assert hits[0].tags == ["diagnosis"]
    assert all(hit.score > 0 and hit.ref == f"kb:{hit.chunk_id}" for hit in hits)


async def test_keyword_match_contributes_to_the_score(starter_kb) -> None:
    hits = await kb.retrieve(starter_kb, get_embedder(), "羊毛党", k=1)
    assert "羊毛党" in hits[0].title
    assert hits[0].keyword_score is not None


async def test_reloading_unchanged_documents_skips_them(starter_kb) -> None:
    counts = await kb.load_documents(starter_kb, get_embedder(), kb.read_directory(kb.STARTER_DIR))
    assert counts == {"documents": 0, "chunks": 0, "skipped": 4}


async def test_retrieval_works_where_pgvector_is_missing(test_databases) -> None:
    url = await asyncio.to_thread(test_databases.create, "salesbot_kb_array")
    await asyncio.to_thread(migrate, url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE kb.chunks DROP COLUMN embedding"))
            await conn.execute(text("ALTER TABLE kb.chunks ADD COLUMN embedding float8[] NOT NULL"))
        documents = [
            kb.parse_markdown("a.md", "# 支付\ntags: diagnosis\n\n## 支付失败\n门店收银设备故障导致支付成功率下降。"),
            kb.parse_markdown("b.md", "# 活动\ntags: campaign\n\n## 满减券\n满减券门槛设为客单价的 1.2 倍。"),
        ]
        await kb.load_documents(engine, get_embedder(), documents)
        async with engine.connect() as conn:
            assert await kb.embedding_kind(conn) == "array"
        hits = await kb.retrieve(engine, get_embedder(), "支付成功率为什么下降", k=1)
        assert hits[0].title == "支付 / 支付失败"
    finally:
        await engine.dispose()


class CountingEmbedder:
    """A fake embedder that records the texts it embeds and the thread it runs on."""

    name = "counting"
    dimensions = 2

    def __init__(self) -> None:
        self.embedded: list[str] = []
        self.threads: set[int] = set()

    def queries(self, texts: list[str]) -> list[list[float]]:
        self.embedded += texts
        self.threads.add(threading.get_ident())
        return [[float(len(t)), 1.0] for t in texts]

    def passages(self, texts: list[str]) -> list[list[float]]:
        return self.queries(texts)


def test_like_pattern_matches_wildcard_characters_literally() -> None:
    assert kb.like_pattern("5折_满100%") == "%5折\\_满100\\%%"


async def test_normalised_variants_of_a_question_are_embedded_once() -> None:
    embedder, cache = CountingEmbedder(), QueryCache()
    first = await embed_queries(embedder, ["ＧＭＶ  为什么 下降"], cache=cache)
    again = await embed_queries(embedder, [" GMV 为什么\u3000下降 "], cache=cache)
    assert embedder.embedded == ["GMV 为什么 下降"]
    assert first == again
    assert (cache.hits, cache.misses) == (1, 1)


async def test_least_recently_used_question_leaves_a_full_cache() -> None:
    embedder, cache = CountingEmbedder(), QueryCache(size=2)
    for question in ("a", "b", "a", "c"):
        await embed_queries(embedder, [question], cache=cache)
    await embed_queries(embedder, ["a", "b"], cache=cache)
    assert embedder.embedded == ["a", "b", "c", "b"]
    assert len(cache) == 2


async def test_query_embedding_runs_off_the_event_loop_thread() -> None:
    embedder = CountingEmbedder()
    await embed_queries(embedder, ["复购率"], cache=None)
    assert embedder.threads and threading.get_ident() not in embedder.threads


async def test_every_embedding_call_runs_on_one_thread_even_when_concurrent() -> None:
    embedder = CountingEmbedder()
    await asyncio.gather(
        *(embed_queries(embedder, [f"问题{i}"], cache=None) for i in range(8)),
        *(embed_passages(embedder, [f"文档{i}"]) for i in range(8)),
    )
    # One OpenMP team: calls from several threads make libgomp throttle its spinning and double the latency.
    assert len(embedder.threads) == 1
    assert threading.get_ident() not in embedder.threads
