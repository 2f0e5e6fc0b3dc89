"""Dense, BM25 and hybrid search over one real index (real model, bm25s), once
with FAISS vectors and once with Qdrant's (local mode): the ``backend`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from citeline.evaluation.metrics import dedupe
from index.embedder import Embedder
from index.retrieval import FusionSettings, Retriever
from index.store import Index
from index.vector_store import BackendConfig
from ingest.chunker import ChunkerSettings
from ingest.pipeline import Ingestor

ARTICLES = {
    "port.txt": "Port Strike Ends\n\nDock workers returned to the port on Monday after a "
    "two-week strike over pay. Shipping companies said cargo backlogs would clear within days. "
    "The union accepted a raise of four percent. The harbour master thanked both sides. "
    "Ferries will run a normal timetable from Tuesday. The Kessendorf crane, idle for weeks, "
    "was the first machine back in service.",
    "bank.txt": "Central Bank Holds Rates\n\nThe central bank kept its interest rate unchanged, "
    "citing slowing inflation. Economists had expected the decision. Mortgage costs will stay "
    "flat for now.",
    "garden.txt": "Community Garden Blooms\n\nVolunteers planted tulips and vegetables in the "
    "old rail yard. Neighbours share the harvest every Saturday.",
    "match.txt": "Derby Ends in Draw\n\nThe city derby ended one-all after a late penalty. Both "
    "coaches praised the crowd.",
}


@pytest.fixture
def index_dir(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, backend: BackendConfig
) -> Path:
    folder = tmp_path_factory.mktemp("retrieval") / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    target = folder.parent / "index"
    # Small passages so the port article spans several of them.
    Ingestor(
        embedder, target, ChunkerSettings(max_tokens=30, overlap_sentences=0), backend=backend
    ).run([folder])
    with Index.open(target) as index:
        assert index.backend == backend.kind
    return target


@pytest.fixture
def retriever(index_dir: Path) -> Retriever:
    return Retriever(Index.open(index_dir))


def test_modes_find_what_they_should(retriever: Retriever, embedder: Embedder) -> None:
    paraphrase = "monetary policy decision on borrowing costs"
    vector = embedder.encode_query(paraphrase)
    assert retriever.search(paraphrase, vector, 1, mode="dense")[0].passage.doc_id == "bank.txt"
    assert retriever.search(paraphrase, vector, 1, mode="hybrid")[0].passage.doc_id == "bank.txt"
    # A made-up name only keyword search can match exactly.
    rare = "Kessendorf"
    hits = retriever.search(rare, None, 3, mode="bm25")
    assert [h.passage.doc_id for h in hits] == ["port.txt"]
    # BM25 ranks documents; the passage shown is the one holding the term.
    assert "Kessendorf" in hits[0].passage.text
    assert hits[0].passage.start > 0
    hybrid = retriever.search(rare, embedder.encode_query(rare), 3, mode="hybrid")
    assert hybrid[0].passage.doc_id == "port.txt" and "Kessendorf" in hybrid[0].passage.text


def test_hybrid_scores_are_fused_and_consistent(retriever: Retriever, embedder: Embedder) -> None:
    query = "dock workers strike pay"
    vector = embedder.encode_query(query)
    hits = retriever.search(query, vector, 50, mode="hybrid")
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    # The best passage of the document best on both sides scores 1.
    assert hits[0].passage.doc_id == "port.txt" and scores[0] == pytest.approx(1.0)
    # A document ranks where its best passage ranks.
    docs = retriever.rank_documents(query, vector, 10, mode="hybrid")
    assert docs == dedupe(h.passage.doc_id for h in hits)
    # Asking for more results never rescores the first ones.
    assert [h.score for h in retriever.search(query, vector, 2, mode="hybrid")] == scores[:2]


def test_dense_mode_is_plain_vector_search(retriever: Retriever, embedder: Embedder) -> None:
    query = "tulips in the rail yard"
    vector = embedder.encode_query(query)
    dense = retriever.search(query, vector, 3, mode="dense")
    plain = retriever.index.search(vector, 3)
    assert [(h.passage.chunk_id, h.score) for h in dense] == [
        (h.passage.chunk_id, h.score) for h in plain
    ]
    assert -1.0 <= dense[0].score <= 1.0
    ranked = retriever.rank_documents(query, vector, 10, mode="dense")
    assert ranked[0] == "garden.txt" and len(ranked) == len(set(ranked)) == len(ARTICLES)


def test_filters_apply_in_every_mode(retriever: Retriever, embedder: Embedder) -> None:
    query = "strike at the port"
    vector = embedder.encode_query(query)
    for mode in ("dense", "bm25", "hybrid"):
        hits = retriever.search(query, vector, 5, {"doc_id": "bank.txt"}, mode)  # type: ignore[arg-type]
        assert {h.passage.doc_id for h in hits} <= {"bank.txt"}, mode
        assert retriever.search(query, vector, 5, {"doc_id": "nope"}, mode) == [], mode  # type: ignore[arg-type]


def test_dense_weight_moves_the_balance(index_dir: Path, embedder: Embedder) -> None:
    query = "Kessendorf"
    vector = embedder.encode_query(query)
    with Index.open(index_dir) as index:
        only_bm25 = Retriever(index, FusionSettings(dense_weight=0.0))
        only_dense = Retriever(index, FusionSettings(dense_weight=1.0))
        assert only_bm25.rank_documents(query, vector, 1) == ["port.txt"]
        assert only_dense.rank_documents(query, vector, 4) == index_dense_order(index, vector)


def index_dense_order(index: Index, vector: object) -> list[str]:
    return dedupe(h.passage.doc_id for h in index.search(vector, 100))  # type: ignore[arg-type]


def test_bad_requests_are_refused(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        retriever.search("x", None, 3, mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the query vector"):
        retriever.search("x", None, 3, mode="hybrid")
    with pytest.raises(ValueError, match="dense_weight"):
        FusionSettings(dense_weight=1.5)
