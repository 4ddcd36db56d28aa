"""Chroma as the KB's vector store (VECTOR_STORE=chroma with CHROMA_URL), spoken to over its HTTP API with httpx."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

import httpx

from backend.config import EmbeddingSettings

log = logging.getLogger(__name__)

SHARED = ""  # the `org` metadata of chunks shared with every organisation (organization_id NULL)


def _org(organization_id: uuid.UUID | None) -> str:
    return SHARED if organization_id is None else str(organization_id)


class ChromaStore:
    """KB chunk vectors in one Chroma collection per embedder (cosine space), ids = kb.chunks ids."""

    def __init__(
        self,
        url: str,
        *,
        tenant: str = "default_tenant",
        database: str = "default_database",
        prefix: str = "salesbot_kb",
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.prefix = prefix
        self._base = f"{self.url}/api/v2/tenants/{tenant}/databases/{database}/collections"
        self._timeout = timeout
        self._collections: dict[str, str] = {}

    def collection_name(self, embedder_name: str, dimensions: int) -> str:
        """Collection of one embedder's vectors: vectors of different models are never mixed."""
        digest = hashlib.sha256(embedder_name.encode()).hexdigest()[:12]
        return f"{self.prefix}_{digest}_{dimensions}"

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            response = await client.request(method, f"{self._base}{path}", json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"Chroma {method} {path or '/'} failed ({response.status_code}): {response.text[:300]}")
        return response.json()

    async def _collection(self, embedder_name: str, dimensions: int) -> str:
        name = self.collection_name(embedder_name, dimensions)
        if name not in self._collections:
            found = await self._request(
                "POST",
                "",
                {
                    "name": name,
                    "get_or_create": True,
                    "configuration": {"hnsw": {"space": "cosine"}},
                    "metadata": {"embedder": embedder_name, "dimensions": dimensions},
                },
            )
            self._collections[name] = str(found["id"])
        return self._collections[name]

    async def upsert(
        self,
        embedder_name: str,
        dimensions: int,
        *,
        chunk_ids: list[int],
        vectors: list[list[float]],
        document_id: int,
        organization_id: uuid.UUID | None,
        tags: list[str],
    ) -> None:
        """Store the vectors of one document's chunks."""
        if not chunk_ids:
            return
        collection = await self._collection(embedder_name, dimensions)
        metadata: dict[str, Any] = {"org": _org(organization_id), "document_id": document_id}
        metadata.update({f"tag:{tag}": True for tag in tags})
        await self._request(
            "POST",
            f"/{collection}/upsert",
            {"ids": [str(i) for i in chunk_ids], "embeddings": vectors, "metadatas": [metadata] * len(chunk_ids)},
        )

    async def delete_document(self, embedder_name: str, dimensions: int, document_id: int) -> None:
        """Forget the vectors of a document's chunks."""
        collection = await self._collection(embedder_name, dimensions)
        await self._request("POST", f"/{collection}/delete", {"where": {"document_id": document_id}})

    async def missing(self, embedder_name: str, dimensions: int, chunk_ids: list[int]) -> set[int]:
        """Chunk ids that have no vector in the collection (e.g. after switching stores or embedders)."""
        if not chunk_ids:
            return set()
        collection = await self._collection(embedder_name, dimensions)
        found = await self._request("POST", f"/{collection}/get", {"ids": [str(i) for i in chunk_ids], "include": []})
        return set(chunk_ids) - {int(i) for i in found["ids"]}

    async def query(
        self,
        embedder_name: str,
        vector: list[float],
        *,
        n: int,
        organization_id: uuid.UUID | None,
        tags: list[str] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) of the nearest shared or the organisation's chunks, best first."""
        collection = await self._collection(embedder_name, len(vector))
        owners = [SHARED] if organization_id is None else [SHARED, _org(organization_id)]
        clauses: list[dict[str, Any]] = [{"org": {"$in": owners}}]
        if tags:
            any_tag = [{f"tag:{tag}": True} for tag in tags]
            clauses.append(any_tag[0] if len(any_tag) == 1 else {"$or": any_tag})
        where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        found = await self._request(
            "POST",
            f"/{collection}/query",
            {"query_embeddings": [vector], "n_results": n, "where": where, "include": ["distances"]},
        )
        return [(int(i), 1.0 - float(d)) for i, d in zip(found["ids"][0], found["distances"][0], strict=True)]


_STORES: dict[str, ChromaStore] = {}


def configured_store(settings: EmbeddingSettings | None = None) -> ChromaStore | None:
    """The Chroma store when VECTOR_STORE=chroma and CHROMA_URL is set, else None (vectors in PostgreSQL)."""
    settings = settings or EmbeddingSettings()
    if settings.vector_store != "chroma":
        return None
    if not settings.chroma_url:
        log.warning("VECTOR_STORE=chroma without CHROMA_URL: KB vectors stay in PostgreSQL")
        return None
    if settings.chroma_url not in _STORES:
        _STORES[settings.chroma_url] = ChromaStore(settings.chroma_url)
    return _STORES[settings.chroma_url]
