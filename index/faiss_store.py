"""Passage vectors in a FAISS file inside the generation folder (the default backend).

The structure (exact or IVF-SQ, by corpus size) is chosen in index/vectors.py;
this module reads, searches and writes it for index/store.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index import vectors as vecs
from index.vector_store import FilterSource

VECTORS = "vectors.faiss"


class FaissUnreadable(Exception):
    """The vectors file cannot be used; the message names it and why."""


class FaissReader:
    def __init__(self, generation: Path, dimension: int) -> None:
        path = generation / VECTORS
        self.description = str(path)
        try:
            self._faiss = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise FaissUnreadable(f"cannot read vectors file {path}: {exc}") from exc
        if self._faiss.d != dimension:
            raise FaissUnreadable(
                f"{path} holds {self._faiss.d}-dimensional vectors but the manifest says "
                f"{dimension}"
            )

    def count(self) -> int:
        return int(self._faiss.ntotal)

    def search(
        self,
        query: np.ndarray,
        k: int,
        filters: Mapping[str, Any] | None,
        source: FilterSource,
    ) -> list[tuple[int, float]]:
        selector = None
        if filters:
            allowed = source.chunk_ids_matching(filters)
            if allowed.size == 0:
                return []
            selector = faiss.IDSelectorBatch(allowed)
        params = vecs.search_params(self._faiss, selector)
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        scores, ids = self._faiss.search(query, min(k, self.count()), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def vectors(self, ids: np.ndarray | list[int]) -> np.ndarray:
        return vecs.reconstruct(self._faiss, ids)

    def batches(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ids, vectors = vecs.all_vectors(self._faiss)
        for start in range(0, len(ids), size):
            yield ids[start : start + size], vectors[start : start + size]

    def close(self) -> None:
        pass  # memory only; freed with the object


class FaissWriter:
    def __init__(
        self,
        dimension: int,
        settings: vecs.VectorSettings,
        *,
        previous: Path | None = None,
        trained_on: int = 0,
    ) -> None:
        """``previous``: a FAISS generation to continue from (else start empty)."""
        self.settings = settings
        self._trained_on = trained_on if previous is not None else 0
        self._faiss = (
            faiss.read_index(str(previous / VECTORS))
            if previous is not None
            else vecs.new_flat(dimension)
        )

    def count(self) -> int:
        return int(self._faiss.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray, payloads: list[dict[str, Any]]) -> None:
        # FAISS holds no payload: filters are resolved in SQLite at search time.
        self._faiss.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def remove(self, ids: np.ndarray) -> None:
        self._faiss.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def commit(self, generation: Path) -> tuple[list[Path], dict[str, Any]]:
        self._faiss, self._trained_on = vecs.fit(self._faiss, self.settings, self._trained_on)
        path = generation / VECTORS
        faiss.write_index(self._faiss, str(path))
        return [path], vecs.describe(self._faiss, self._trained_on)

    def abort(self) -> None:
        pass  # the generation folder holding the file is removed by the caller
