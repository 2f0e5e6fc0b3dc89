"""Question answering over one index: embed the question, retrieve, answer.

The one place the server, the CLI and later the Slack bot get answers from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from answer.answers import Answer
from answer.extractive import ExtractiveAnswerer
from index.embedder import Embedder
from index.models import SearchHit
from index.retrieval import FusionSettings, Mode, Retriever
from index.store import Index, IndexUnavailable
from server.settings import Settings


@dataclass
class QAService:
    embedder: Embedder
    index: Index
    answerer: ExtractiveAnswerer
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

    def ask(self, question: str, top_k: int | None = None, mode: Mode | None = None) -> Answer:
        vector, hits = self.retrieve(question, top_k, mode)
        return self.answerer.run(question, vector, hits)

    @classmethod
    def load(
        cls,
        index_dir: Any,
        *,
        embedder: Embedder | None = None,
        top_k: int = 5,
        mode: Mode | None = None,
        fusion: FusionSettings | None = None,
    ) -> QAService:
        """Open the index first (fails fast with a clear message), then the model.

        ``mode`` and ``fusion`` default to the CITELINE_* settings (environment, .env)."""
        if mode is None or fusion is None:
            settings = Settings()
            mode = mode or settings.retrieval_mode
            fusion = fusion or FusionSettings(
                dense_weight=settings.fusion_dense_weight,
                candidates=settings.fusion_candidates,
            )
        index = Index.open(index_dir)
        embedder = embedder or Embedder()
        if index.manifest.embedder != embedder.name:
            raise IndexUnavailable(
                f"{index_dir} was built with {index.manifest.embedder}, but the server loads "
                f"{embedder.name}; re-ingest or use the matching model"
            )
        return cls(embedder, index, ExtractiveAnswerer(embedder), top_k, mode, fusion)
