"""Several collections searched as one: same fusion as one index over their union."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedder import Embedder
from index.multi import MultiRetriever
from index.retrieval import Retriever
from index.store import Index
from ingest.pipeline import Ingestor
from tests.collections_helpers import bbc_articles, subset_index, write_jsonl

QUERIES = [
    "Ad sales boost Time Warner profit",
    "dollar gains on Greenspan speech",
    "mobile phone sales",
    "football manager sacked",
    "election campaign tax plans",
    "film awards nominations",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("multi")
    # A few from each category (the corpus is sorted by category).
    rows = [r for n, r in enumerate(bbc_articles()) if n % 50 < 8]
    whole = tmp / "whole"
    Ingestor(embedder, whole).run([write_jsonl(tmp / "all.jsonl", rows)])
    ids = sorted(r["_id"] for r in rows)
    a = {d for n, d in enumerate(ids) if n % 2 == 0}
    subset_index(whole, tmp / "a", a)
    subset_index(whole, tmp / "b", set(ids) - a)
    return {"whole": whole, "a": tmp / "a", "b": tmp / "b"}


def key(hit) -> tuple[str, int, int]:  # type: ignore[no-untyped-def]
    return (hit.passage.doc_id, hit.passage.start, hit.passage.end)


def tied(hits):  # type: ignore[no-untyped-def]
    return sorted((-round(h.score, 5), key(h)) for h in hits)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_one_collection_ranks_as_the_single_index_retriever(
    corpus: dict[str, Path], embedder: Embedder, mode: str
) -> None:
    with Index.open(corpus["whole"]) as ix:
        one, multi = Retriever(ix), MultiRetriever({"whole": ix})
        for q in QUERIES:
            v = embedder.encode_query(q)
            expected = one.search(q, v, 10, mode=mode)  # type: ignore[arg-type]
            got = multi.search(q, v, 10, mode=mode)  # type: ignore[arg-type]
            assert [key(h) for h in got] == [key(h) for h in expected]
            assert np.allclose([h.score for h in got], [h.score for h in expected], atol=1e-5)
            assert all(h.collection == "whole" for h in got)


def test_global_idf_of_a_single_index_equals_its_own_scores(corpus: dict[str, Path]) -> None:
    from index.bm25 import idf_one
    from index.normalize import terms

    with Index.open(corpus["whole"]) as ix:
        for q in QUERIES:
            t = terms(q)
            stats = ix.bm25.term_stats(t)
            idf = {w: idf_one(len(ix.bm25), stats.get(w, 0)) for w in set(t)}
            assert np.allclose(ix.bm25.scores_with_idf(t, idf), ix.bm25.scores(q), atol=1e-4)
            # Recovering term frequencies and renormalising with its own average length
            # gives its own scores back too.
            lengths = ix.document_lengths()
            assert lengths is not None and len(lengths) == len(ix.bm25)
            renormed = ix.bm25.scores_with_idf(t, idf, float(lengths.mean()), lengths)
            assert np.allclose(renormed, ix.bm25.scores(q), atol=1e-4)


def test_two_halves_merge_into_the_ranking_of_one_index(
    corpus: dict[str, Path], embedder: Embedder
) -> None:
    with (
        Index.open(corpus["whole"]) as whole,
        Index.open(corpus["a"]) as a,
        Index.open(corpus["b"]) as b,
    ):
        one, merged = Retriever(whole), MultiRetriever({"a": a, "b": b})
        assert a.document_count + b.document_count == whole.document_count
        same = 0
        for q in QUERIES:
            v = embedder.encode_query(q)
            reference = one.search(q, v, 10)
            hits = merged.search(q, v, 10)
            # Same passages, same scores, same order (exact ties, e.g. duplicate
            # articles, may come in either order).
            same += tied(hits) == tied(reference)
            # Each hit names the collection that really holds it.
            for h in hits:
                holder = a if h.collection == "a" else b
                assert holder.document(h.passage.doc_id) is not None
            # Dense cosine is absolute: merging is exact.
            dense = [key(h) for h in merged.search(q, v, 10, mode="dense")]
            assert dense == [key(h) for h in one.search(q, v, 10, mode="dense")]
        assert same == len(QUERIES)


def test_filters_and_empty_collections(corpus: dict[str, Path], embedder: Embedder) -> None:
    with Index.open(corpus["a"]) as a, Index.open(corpus["b"]) as b:
        doc = next(iter(a.bm25.doc_ids))
        v = embedder.encode_query("sales")
        hits = MultiRetriever({"a": a, "b": b}).search("sales", v, 10, {"doc_id": doc})
        assert hits and {h.passage.doc_id for h in hits} == {doc}
        assert {h.collection for h in hits} == {"a"}
        assert MultiRetriever({}).search("sales", v, 10) == []


def test_bad_requests_are_refused_as_by_one_index(corpus: dict[str, Path]) -> None:
    with Index.open(corpus["a"]) as a:
        multi = MultiRetriever({"a": a})
        with pytest.raises(ValueError, match="unknown retrieval mode"):
            multi.search("x", None, 3, mode="fuzzy")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="needs the query vector"):
            multi.search("x", None, 3, mode="dense")
        assert multi.search("sales", None, 3, mode="bm25")  # keywords need no vector
