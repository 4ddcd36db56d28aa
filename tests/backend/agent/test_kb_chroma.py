"""VECTOR_STORE=chroma: KB vectors in a real Chroma server (started here), keyword side and fusion in PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.agent import kb
from backend.agent.embedder import embed_queries, get_embedder
from backend.agent.vector_store import ChromaStore, configured_store
from backend.config import EmbeddingSettings
from backend.core.runtime import migrate
from tests.conftest import require_service

ORG_A, ORG_B = uuid.uuid4(), uuid.uuid4()
SHARED_DOCS = [
    kb.parse_markdown("pay.md", "# 支付\ntags: diagnosis\n\n## 支付失败\n门店收银设备故障导致支付成功率下降。"),
    kb.parse_markdown("coupon.md", "# 活动\ntags: campaign\n\n## 满减券\n满减券门槛设为客单价的 1.2 倍。"),
]
ORG_A_DOC = kb.parse_markdown("a.md", "# 甲方秘籍\ntags: diagnosis\n\n## 会员日\n会员日当天积分翻倍，复购率提升明显。")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on a free port; missing fails under CI=true, skips elsewhere."""
    executable = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if executable is None:
        require_service("Chroma", "the `chroma` command (pip package chromadb) is not installed")
    port = _free_port()
    log = (tmp_path_factory.mktemp("chroma") / "server.log").open("wb")
    process = subprocess.Popen(
        [str(executable), "run", "--path", str(tmp_path_factory.mktemp("chroma_data")), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            require_service("Chroma", f"`chroma run` did not answer on {url} (exit code {process.poll()})")
        time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def store(chroma_url: str) -> ChromaStore:
    """A store whose collections no other test uses."""
    return ChromaStore(chroma_url, prefix=f"t{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def kb_engine(test_databases: Any) -> AsyncIterator[AsyncEngine]:
    """A fresh migrated database."""
    url = await asyncio.to_thread(test_databases.create, "salesbot_kb_chroma")
    await asyncio.to_thread(migrate, url)
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


async def _ids(engine: AsyncEngine, source: str) -> list[int]:
    async with engine.connect() as conn:
        return [
            int(r[0])
            for r in await conn.execute(
                text("SELECT c.id FROM kb.chunks c JOIN kb.documents d ON d.id = c.document_id WHERE d.source = :s"),
                {"s": source},
            )
        ]


async def test_configured_chroma_gets_vectors_on_load_and_retrieval_fuses_both_sides(
    chroma_url: str, kb_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECTOR_STORE", "chroma")
    monkeypatch.setenv("CHROMA_URL", chroma_url)
    store = configured_store()
    assert store is not None and store.url == chroma_url
    embedder = get_embedder()
    assert await kb.load_documents(kb_engine, embedder, SHARED_DOCS) == {"documents": 2, "chunks": 2, "skipped": 0}
    assert await store.missing(embedder.name, embedder.dimensions, await _ids(kb_engine, "pay.md")) == set()
    hits = await kb.retrieve(kb_engine, embedder, "支付成功率为什么下降", k=2)
    assert hits[0].title == "支付 / 支付失败"
    assert hits[0].vector_score is not None and hits[0].keyword_score is not None
    assert hits[0].ref == f"kb:{hits[0].chunk_id}"
    # The vector side really comes from Chroma: emptied there, only the keyword side is left.
    await store.delete_document(embedder.name, embedder.dimensions, await _document_id(kb_engine, "pay.md"))
    hits = await kb.retrieve(kb_engine, embedder, "支付成功率为什么下降", k=2)
    pay = next(h for h in hits if h.title == "支付 / 支付失败")
    assert pay.vector_score is None and pay.keyword_score is not None


async def _document_id(engine: AsyncEngine, source: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT id FROM kb.documents WHERE source = :s"), {"s": source}))


def test_chroma_is_used_only_with_vector_store_chroma_and_a_url() -> None:
    assert configured_store(EmbeddingSettings(VECTOR_STORE="pgvector", CHROMA_URL="http://x:1")) is None
    assert configured_store(EmbeddingSettings(VECTOR_STORE="chroma")) is None
    assert isinstance(configured_store(EmbeddingSettings(VECTOR_STORE="chroma", CHROMA_URL="http://x:1")), ChromaStore)


async def test_chroma_queries_keep_organisations_apart(store: ChromaStore, kb_engine: AsyncEngine) -> None:
    embedder = get_embedder()
    await kb.load_documents(kb_engine, embedder, SHARED_DOCS, store=store)
    await kb.load_documents(kb_engine, embedder, [ORG_A_DOC], organization_id=ORG_A, store=store)
    [a_chunk] = await _ids(kb_engine, "a.md")
    question = "会员日积分翻倍对复购率的影响"
    [vector] = await embed_queries(embedder, [question], cache=None)
    seen_by_b = {i for i, _ in await store.query(embedder.name, vector, n=20, organization_id=ORG_B)}
    seen_by_a = {i for i, _ in await store.query(embedder.name, vector, n=20, organization_id=ORG_A)}
    seen_shared = {i for i, _ in await store.query(embedder.name, vector, n=20, organization_id=None)}
    assert a_chunk in seen_by_a and a_chunk not in seen_by_b and a_chunk not in seen_shared
    assert len(seen_by_b) == len(seen_shared) == 2
    for org, visible in ((ORG_A, True), (ORG_B, False), (None, False)):
        hits = await kb.retrieve(kb_engine, embedder, question, k=5, organization_id=org, store=store)
        assert (a_chunk in {h.chunk_id for h in hits}) is visible
    hits = await kb.retrieve(kb_engine, embedder, question, k=5, organization_id=ORG_A, tags=["campaign"], store=store)
    assert [h.title for h in hits] == ["活动 / 满减券"]


async def test_removing_or_replacing_a_document_deletes_its_chroma_vectors(
    store: ChromaStore, kb_engine: AsyncEngine
) -> None:
    embedder = get_embedder()
    await kb.load_documents(kb_engine, embedder, SHARED_DOCS, store=store)
    old = await _ids(kb_engine, "coupon.md")
    changed = kb.parse_markdown("coupon.md", "# 活动\ntags: campaign\n\n## 满减券\n满减券门槛设为客单价的 1.5 倍。")
    assert (await kb.load_documents(kb_engine, embedder, [changed], store=store))["documents"] == 1
    new = await _ids(kb_engine, "coupon.md")
    assert await store.missing(embedder.name, embedder.dimensions, old) == set(old)
    assert await store.missing(embedder.name, embedder.dimensions, new) == set()
    assert await kb.remove_document(kb_engine, embedder, "coupon.md", store=store)
    assert await store.missing(embedder.name, embedder.dimensions, new) == set(new)
    assert not await kb.remove_document(kb_engine, embedder, "coupon.md", store=store)


async def test_unchanged_documents_missing_from_chroma_are_embedded_again(
    store: ChromaStore, kb_engine: AsyncEngine
) -> None:
    embedder = get_embedder()
    await kb.load_documents(kb_engine, embedder, SHARED_DOCS, store=None)
    assert await kb.load_documents(kb_engine, embedder, SHARED_DOCS, store=store) == {
        "documents": 2,
        "chunks": 2,
        "skipped": 0,
    }
    assert await kb.load_documents(kb_engine, embedder, SHARED_DOCS, store=store) == {
        "documents": 0,
        "chunks": 0,
        "skipped": 2,
    }
