"""Question answering over one index: embed the question, retrieve, answer.

The one place the server, the CLI and later the Slack bot get answers from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from index.embedder import Embedder
from index.models import SearchHit
from index.store import Index, IndexUnavailable
from server.extractive import Answer, ExtractiveAnswerer


@dataclass
class QAService:
    embedder: Embedder
    index: Index
    answerer: ExtractiveAnswerer
    default_top_k: int = 5

    def search(
        self, query: str, top_k: int | None = None, filters: Mapping[str, Any] | None = None
    ) -> list[SearchHit]:
        vector = self.embedder.encode_query(query)
        return self.index.search(vector, top_k or self.default_top_k, filters)

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        vector = self.embedder.encode_query(question)
        hits = self.index.search(vector, top_k or self.default_top_k)
        return self.answerer.run(question, vector, hits)

    @classmethod
    def load(cls, index_dir: Any, *, embedder: Embedder | None = None, top_k: int = 5) -> QAService:
        """Open the index first (fails fast with a clear message), then the model."""
        index = Index.open(index_dir)
        embedder = embedder or Embedder()
        if index.manifest.embedder != embedder.name:
            raise IndexUnavailable(
                f"{index_dir} was built with {index.manifest.embedder}, but the server loads "
                f"{embedder.name}; re-ingest or use the matching model"
            )
        return cls(embedder, index, ExtractiveAnswerer(embedder), top_k)
