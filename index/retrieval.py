"""Search one index in one of three modes: dense, bm25 or hybrid.

- ``dense``: passages by cosine similarity of their vectors to the query's.
  ``score`` is that cosine (-1..1).
- ``bm25``: documents by BM25 over their whole text; each contributes its
  passage sharing the most query terms. ``score`` is the document's BM25 score
  (>= 0, unbounded, comparable only within one query).
- ``hybrid``: both, fused at document level. Each ranker's scores are rescaled
  to 0..1 between its best candidate and its ``candidates``-th best (below that
  clips to 0), and a passage scores
  ``w * dense(passage) + (1 - w) * bm25(its document)``, so a document ranks
  where its best passage ranks and ``score`` lies in 0..1 (1 = best on both
  sides; comparable only within one query). Dense scores are computed for
  every candidate document, including those only BM25 found, so no candidate
  is scored against a missing value.

Min-max fusion at document level beat reciprocal rank fusion and passage-level
fusion in our measurements (README, "Retrieval quality").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from index.models import SearchHit
from index.normalize import terms
from index.store import Index

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[Mode, ...] = get_args(Mode)


@dataclass(frozen=True)
class FusionSettings:
    # Weight of the dense side; 0.5 gives both rankers an equal say.
    dense_weight: float = 0.5
    # Documents each ranker brings to fusion; also the depth of the rescaling.
    candidates: int = 100
    # Passages fetched from the vector index per candidate document wanted.
    passages_per_document: int = 4

    def __post_init__(self) -> None:
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError("dense_weight must lie in 0..1")
        if self.candidates < 1 or self.passages_per_document < 1:
            raise ValueError("candidates and passages_per_document must be >= 1")


def _rescale(values: np.ndarray, hi: float, lo: float) -> np.ndarray:
    if hi <= lo:
        # Within rounding: the vector store's search and numpy's matrix product
        # compute the same dot product in different orders (Qdrant in float64).
        return np.where(values >= hi - 1e-6, 1.0, 0.0)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0)


@dataclass(frozen=True)
class Ranked:
    chunk_id: int
    doc_id: str
    score: float


@dataclass(frozen=True)
class _Fused:
    """Every passage of every candidate document with its fused score, as arrays
    (a query touches thousands of passages; objects are made for the top only)."""

    documents_: list[str]
    chunk_ids: np.ndarray
    owner: np.ndarray  # index into documents_ of each passage
    scores: np.ndarray
    order: np.ndarray  # passages best first

    def top(self, k: int) -> list[Ranked]:
        return [
            Ranked(int(self.chunk_ids[i]), self.documents_[self.owner[i]], float(self.scores[i]))
            for i in self.order[:k]
        ]

    def documents(self) -> list[str]:
        """Documents in the order of their best passage."""
        _, first = np.unique(self.owner[self.order], return_index=True)
        return [self.documents_[self.owner[self.order[i]]] for i in np.sort(first)]


def check_query(mode: str, query_vector: np.ndarray | None) -> None:
    """A known mode, with the query vector every mode but bm25 needs (single- and
    multi-collection search alike)."""
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
    if mode != "bm25" and query_vector is None:
        raise ValueError(f"{mode} search needs the query vector")


_EMPTY = np.zeros(0, dtype=np.int64)
_NOTHING = _Fused([], _EMPTY, _EMPTY, np.zeros(0), _EMPTY)


class Retriever:
    def __init__(self, index: Index, settings: FusionSettings | None = None) -> None:
        self.index = index
        self.settings = settings or FusionSettings()

    def search(
        self,
        query: str,
        query_vector: np.ndarray | None,
        top_k: int,
        filters: Mapping[str, Any] | None = None,
        mode: Mode = "hybrid",
    ) -> list[SearchHit]:
        """The ``top_k`` best passages with their text, best first."""
        check_query(mode, query_vector)
        if top_k <= 0 or self.index.chunk_count == 0:
            return []
        if mode == "dense":
            assert query_vector is not None
            return self.index.search(query_vector, top_k, filters)
        if mode == "bm25":
            return self._bm25_passages(query, self._bm25_docs(query, top_k, filters))
        assert query_vector is not None
        ranked = self._hybrid(query, query_vector, filters).top(top_k)
        passages = self.index.passages(r.chunk_id for r in ranked)
        return [SearchHit(passages[r.chunk_id], r.score) for r in ranked if r.chunk_id in passages]

    def rank_documents(
        self,
        query: str,
        query_vector: np.ndarray | None,
        depth: int,
        mode: Mode = "hybrid",
        filters: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Document ids, best first, as :meth:`search` would order their best
        passages (reads no passage text; for evaluation)."""
        check_query(mode, query_vector)
        if depth <= 0 or self.index.chunk_count == 0:
            return []
        if mode == "bm25":
            return [d for d, _ in self._bm25_docs(query, depth, filters)]
        assert query_vector is not None
        if mode == "hybrid":
            return self._hybrid(query, query_vector, filters).documents()[:depth]
        # Enough passages that ``depth`` documents appear even when many
        # passages of one document rank close together.
        pairs = self.index.search_ids(query_vector, depth * 10, filters)
        owner = self.index.doc_ids_of(i for i, _ in pairs)
        return list(dict.fromkeys(owner[i] for i, _ in pairs if i in owner))[:depth]

    # -- keyword ------------------------------------------------------------------

    def _allowed(self, filters: Mapping[str, Any] | None) -> set[str] | None:
        return self.index.doc_ids_matching(filters) if filters else None

    def _bm25_docs(
        self, query: str, k: int, filters: Mapping[str, Any] | None
    ) -> list[tuple[str, float]]:
        return self.index.bm25.top(query, k, self._allowed(filters))

    def _bm25_passages(self, query: str, docs: list[tuple[str, float]]) -> list[SearchHit]:
        if not docs:
            return []
        chunk_ids = self.index.chunk_ids_of(d for d, _ in docs)
        wanted = set(terms(query))
        passages = self.index.passages(i for ids in chunk_ids.values() for i in ids)
        hits: list[SearchHit] = []
        for doc_id, score in docs:
            ids = [i for i in chunk_ids[doc_id] if i in passages]
            if not ids:
                continue
            # The passage with the most distinct query terms; the earliest on ties.
            best = max(ids, key=lambda i: (len(wanted.intersection(terms(passages[i].text))), -i))
            hits.append(SearchHit(passages[best], score))
        return hits

    # -- fused --------------------------------------------------------------------

    def _hybrid(
        self, query: str, query_vector: np.ndarray, filters: Mapping[str, Any] | None
    ) -> _Fused:
        """Every passage of every candidate document, by fused score."""
        s = self.settings
        # The candidate depth is fixed, not tied to top_k, so asking for more
        # passages never changes how the ones already returned were scored.
        n = s.candidates
        # Dense candidates: documents of the best passages.
        pairs = self.index.search_ids(query_vector, n * s.passages_per_document, filters)
        owner = self.index.doc_ids_of(i for i, _ in pairs)
        dense_docs: dict[str, float] = {}
        for i, score in pairs:
            if i in owner:
                dense_docs.setdefault(owner[i], score)
        dense_top = list(dense_docs.values())[:n]
        # Keyword candidates; every document's score is kept for the rest.
        bm25 = self.index.bm25
        all_bm25 = bm25.scores(query)
        bm25_top = bm25.top(query, n, self._allowed(filters), scores=all_bm25)
        candidates = list(dict.fromkeys([*list(dense_docs)[:n], *(d for d, _ in bm25_top)]))
        if not candidates:
            return _NOTHING

        # Exact dense scores of every passage of every candidate document.
        chunk_ids = self.index.chunk_ids_of(candidates)
        counts = np.array([len(chunk_ids[d]) for d in candidates], dtype=np.int64)
        if counts.sum() == 0:
            return _NOTHING
        flat_ids = np.fromiter(
            (i for d in candidates for i in chunk_ids[d]), dtype=np.int64, count=int(counts.sum())
        )
        passage_owner = np.repeat(np.arange(len(candidates)), counts)
        cosine = self.index.vectors(flat_ids) @ np.asarray(query_vector, dtype=np.float32)
        doc_bm25 = bm25.scores_of(all_bm25, candidates)

        d_hi, d_lo = (max(dense_top), min(dense_top)) if dense_top else (1.0, 0.0)
        b_scores = [v for _, v in bm25_top]
        b_hi = max(b_scores) if b_scores else 0.0
        # Fewer keyword matches than candidates: the unmatched rest score 0.
        b_lo = min(b_scores) if len(b_scores) >= n else 0.0
        dense_part = _rescale(cosine, d_hi, d_lo)
        if b_hi > 0:
            bm25_part = _rescale(doc_bm25, b_hi, b_lo)[passage_owner]
        else:
            bm25_part = np.zeros_like(dense_part)
        fused = s.dense_weight * dense_part + (1.0 - s.dense_weight) * bm25_part
        order = np.argsort(-fused, kind="stable")
        return _Fused(candidates, flat_ids, passage_owner, fused, order)
