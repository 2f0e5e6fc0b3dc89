"""Queries with no keyword terms (found by schemathesis as a 500 on "0")."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.embedder import Embedder
from index.retrieval import Retriever
from index.store import Index


@pytest.mark.parametrize("query", ["0", "the", "?", "of the and"])
def test_queries_without_keyword_terms_do_not_fail(
    query: str, seed_index: Path, embedder: Embedder
) -> None:
    with Index.open(seed_index) as index:
        retriever = Retriever(index)
        vector = embedder.encode_query(query)
        assert retriever.search(query, None, 5, None, "bm25") == []
        hybrid = retriever.search(query, vector, 5, None, "hybrid")
        dense = retriever.search(query, vector, 5, None, "dense")
        assert len(hybrid) == len(dense) == min(5, index.chunk_count)
