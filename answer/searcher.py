"""One index generation and the retrieval over it: embed the question, retrieve.

The answer service (answer/service.py) holds the Searcher it serves from and
swaps it for a new one when the index is reloaded; a request that already took
the old Searcher finishes on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Embedder
from index.models import SearchHit
from index.retrieval import FusionSettings, Mode, Retriever
from index.store import Index, IndexUnavailable
from index.vector_store import BackendConfig


@dataclass
class Searcher:
    embedder: Embedder
    index: Index
    default_top_k: int = 5
    mode: Mode = "hybrid"
    fusion: FusionSettings = field(default_factory=FusionSettings)

    def __post_init__(self) -> None:
        self.retriever = Retriever(self.index, self.fusion)

    def search(
        self,
        query: str,
        top_k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
    ) -> list[SearchHit]:
        mode = mode or self.mode
        # Keyword search needs no embedding: skip the model's ~10 ms.
        vector = None if mode == "bm25" else self.embedder.encode_query(query)
        return self.retriever.search(query, vector, top_k or self.default_top_k, filters, mode)

    def retrieve(
        self, question: str, top_k: int | None = None, mode: Mode | None = None
    ) -> tuple[np.ndarray, list[SearchHit]]:
        """The question's vector (answerers reuse it) and the passages to answer from."""
        vector = self.embedder.encode_query(question)
        hits = self.retriever.search(
            question, vector, top_k or self.default_top_k, None, mode or self.mode
        )
        return vector, hits

    @classmethod
    def open(
        cls,
        index_dir: Path | str,
        *,
        embedder: Embedder | None = None,
        top_k: int = 5,
        mode: Mode = "hybrid",
        fusion: FusionSettings | None = None,
        backend: BackendConfig | None = None,
    ) -> Searcher:
        """Open the index first (fails fast with a clear message), then the model."""
        index = Index.open(index_dir, backend)
        try:
            embedder = embedder or Embedder()
            if index.manifest.embedder != embedder.name:
                raise IndexUnavailable(
                    f"{index_dir} was built with {index.manifest.embedder}, but this process "
                    f"runs {embedder.name}; re-ingest, or restart with the matching model"
                )
        except BaseException:
            index.close()
            raise
        return cls(embedder, index, top_k, mode, fusion or FusionSettings())
