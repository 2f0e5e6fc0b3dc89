"""Where an index generation keeps its passage vectors: the interface and the choice.

Documents, passages, the keyword index and the generation protocol always live
in the index directory (index/store.py). Only the vectors have a backend:

- ``faiss``: a file in the generation folder, loaded into the process's memory
  (index/faiss_store.py). The default.
- ``qdrant``: one Qdrant collection per generation, on a server or cluster, or
  in qdrant-client's in-process local mode (index/qdrant_store.py), for corpora
  whose vectors do not fit one machine's memory.

Writers use the backend they are given (the entry point turns the
``CITELINE_INDEX_BACKEND`` settings into a ``BackendConfig``; the default is
FAISS); readers use what the generation's manifest records, so a server reads
whatever ingest wrote. This package never reads the environment itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

Backend = Literal["faiss", "qdrant"]
# Written into a Qdrant generation's folder before its collection exists, so
# whoever removes the folder (even of a crashed writer) can remove the collection.
QDRANT_MARKER = "qdrant.json"
BACKENDS: tuple[Backend, ...] = ("faiss", "qdrant")


@dataclass(frozen=True)
class BackendConfig:
    """The vector backend a writer uses, and where a reader may find Qdrant."""

    kind: Backend = "faiss"
    url: str | None = None
    path: Path | None = None
    collection: str = "citeline"
    api_key: str | None = field(default=None, repr=False)
    # Collections on a Qdrant cluster: copies of each shard, and shards (None:
    # Qdrant's default, one per node). Local mode has neither.
    replication_factor: int = 1
    shards: int | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> BackendConfig:
        key = settings.qdrant_api_key
        return cls(
            kind=settings.index_backend,
            url=settings.qdrant_url or None,
            path=Path(settings.qdrant_path).resolve() if settings.qdrant_path else None,
            collection=settings.qdrant_collection,
            api_key=key.get_secret_value() if key is not None else None,
            replication_factor=settings.qdrant_replication_factor,
            shards=settings.qdrant_shards,
        )


class FilterSource(Protocol):
    """Resolves ``filters`` against the passages database (index/store.py)."""

    def chunk_ids_matching(self, filters: Mapping[str, Any]) -> np.ndarray: ...

    def doc_ids_matching(self, filters: Mapping[str, Any]) -> set[str]: ...


class VectorReader(Protocol):
    """The vectors of one committed generation, read-only."""

    description: str  # names the file or collection in error messages

    def count(self) -> int: ...

    def search(
        self,
        query: np.ndarray,
        k: int,
        filters: Mapping[str, Any] | None,
        source: FilterSource,
    ) -> list[tuple[int, float]]:
        """(chunk id, inner product) of the ``k`` best passages, best first."""
        ...

    def vectors(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """Stored vectors of these passages, in the order asked."""
        ...

    def batches(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (ids, vectors) stored, ``size`` at a time (for copying)."""
        ...

    def close(self) -> None: ...


class VectorWriter(Protocol):
    """The vectors of a generation being written."""

    def count(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray, payloads: list[dict[str, Any]]) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def commit(self, generation: Path) -> tuple[list[Path], dict[str, Any]]:
        """Makes the vectors durable; returns files to fsync and the manifest's
        ``vectors`` entry."""
        ...

    def abort(self) -> None: ...


def backend_of(vectors_entry: Mapping[str, Any]) -> Backend:
    """The backend a manifest's ``vectors`` entry names (FAISS kinds otherwise)."""
    return "qdrant" if vectors_entry.get("kind") == "qdrant" else "faiss"
