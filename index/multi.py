"""Search several collections as if they were one index.

Each collection is its own index (index/collections.py), but a query over several must
rank their passages on one scale. Merging each collection's own hybrid results would
not: hybrid fusion rescales each ranker between its best and its ``candidates``-th best
candidate (index/retrieval.py), and BM25's IDF depends on the collection's documents, so
a fused 0.8 in one collection and 0.8 in another mean different things.

So the fusion of index/retrieval.py is computed over the union:

- dense: cosine similarity is absolute; each collection brings its best passages, the
  union's best ``candidates * passages_per_document`` decide the dense candidates and
  the rescaling bounds, exactly as one index over the union would;
- BM25: each term's IDF is recomputed from the union's document counts (the sum of each
  collection's document frequency and size), and the length normalisation uses the
  union's average document length; every collection scores with them
  (:meth:`Bm25Index.scores_with_idf`), so a document scores as in one index over the
  union. The union's best ``candidates`` decide the keyword candidates and bounds;
- every passage of every candidate document is then scored and rescaled with the
  union's bounds, and all are ranked together.

With one collection this is the same computation as :class:`index.retrieval.Retriever`.
bench/collections_merge.py measures how often two halves give the top-10 of one index.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from index.bm25 import idf_one
from index.models import Passage, SearchHit
from index.normalize import terms
from index.retrieval import FusionSettings, Mode, _rescale, check_query
from index.store import Index


@dataclass(frozen=True)
class _Keyword:
    """One collection's keyword scores for a query, on the union's IDF."""

    scores: np.ndarray
    allowed: set[str] | None


class MultiRetriever:
    """Searches ``indexes`` (collection name -> open index) as one."""

    def __init__(self, indexes: Mapping[str, Index], settings: FusionSettings | None = None):
        # Sorted: the same request ranks ties the same way whatever order names came in.
        self.indexes = dict(sorted(indexes.items()))
        self.settings = settings or FusionSettings()

    def search(
        self,
        query: str,
        query_vector: np.ndarray | None,
        top_k: int,
        filters: Mapping[str, Any] | None = None,
        mode: Mode = "hybrid",
    ) -> list[SearchHit]:
        check_query(mode, query_vector)
        live = {n: ix for n, ix in self.indexes.items() if ix.chunk_count > 0}
        if top_k <= 0 or not live:
            return []
        if mode == "dense":
            assert query_vector is not None
            return self._dense(live, query_vector, top_k, filters)
        keyword = self._keyword(live, query, filters)
        if mode == "bm25":
            return self._bm25(live, query, keyword, top_k)
        assert query_vector is not None
        return self._hybrid(live, query, query_vector, keyword, top_k, filters)

    # -- one side at a time ------------------------------------------------------

    @staticmethod
    def _dense(
        live: Mapping[str, Index],
        vector: np.ndarray,
        top_k: int,
        filters: Mapping[str, Any] | None,
    ) -> list[SearchHit]:
        pairs = _best_passages(live, vector, top_k, filters)
        by_collection: dict[str, list[int]] = {}
        for _, name, i in pairs:
            by_collection.setdefault(name, []).append(i)
        texts = {n: live[n].passages(ids) for n, ids in by_collection.items()}
        return [SearchHit(_tagged(texts[n][i], n), s) for s, n, i in pairs if i in texts[n]]

    def _keyword(
        self, live: Mapping[str, Index], query: str, filters: Mapping[str, Any] | None
    ) -> dict[str, _Keyword]:
        query_terms = terms(query)
        stats = {n: ix.bm25.term_stats(query_terms) for n, ix in live.items()}
        n_docs = sum(len(ix.bm25) for ix in live.values())
        idf = {
            t: idf_one(n_docs, sum(s.get(t, 0) for s in stats.values())) for t in set(query_terms)
        }
        lengths = {n: ix.document_lengths() for n, ix in live.items()}
        known = [x for x in lengths.values() if x is not None]
        # The union's average length, when every collection's lengths are known.
        avgdl = (
            float(sum(x.sum() for x in known) / max(1, sum(len(x) for x in known)))
            if len(known) == len(lengths)
            else None
        )
        return {
            n: _Keyword(
                ix.bm25.scores_with_idf(query_terms, idf, avgdl, lengths[n]),
                ix.doc_ids_matching(filters) if filters else None,
            )
            for n, ix in live.items()
        }

    @staticmethod
    def _best_documents(
        live: Mapping[str, Index], keyword: Mapping[str, _Keyword], query: str, k: int
    ) -> list[tuple[float, str, str]]:
        """(score, collection, doc id) of the union's ``k`` best keyword matches."""
        found = [
            (score, n, d)
            for n, ix in live.items()
            for d, score in ix.bm25.top(query, k, keyword[n].allowed, scores=keyword[n].scores)
        ]
        return heapq.nlargest(k, found, key=lambda x: x[0])

    def _bm25(
        self, live: Mapping[str, Index], query: str, keyword: Mapping[str, _Keyword], top_k: int
    ) -> list[SearchHit]:
        from index.retrieval import Retriever

        best = self._best_documents(live, keyword, query, top_k)
        hits: list[SearchHit] = []
        for score, n, d in best:
            # The passage sharing the most query terms, as one index's bm25 mode picks it.
            one = Retriever(live[n], self.settings)._bm25_passages(query, [(d, score)])
            hits.extend(SearchHit(_tagged(h.passage, n), h.score) for h in one)
        return hits

    # -- fused ----------------------------------------------------------------------

    def _hybrid(
        self,
        live: Mapping[str, Index],
        query: str,
        vector: np.ndarray,
        keyword: Mapping[str, _Keyword],
        top_k: int,
        filters: Mapping[str, Any] | None,
    ) -> list[SearchHit]:
        s = self.settings
        n = s.candidates
        # Dense candidates: documents of the union's best passages.
        pairs = _best_passages(live, vector, n * s.passages_per_document, filters)
        owners: dict[str, dict[int, str]] = {}
        for name in {name for _, name, _ in pairs}:
            owners[name] = live[name].doc_ids_of(i for _, nm, i in pairs if nm == name)
        dense_docs: dict[tuple[str, str], float] = {}
        for score, name, i in pairs:
            doc = owners[name].get(i)
            if doc is not None:
                dense_docs.setdefault((name, doc), score)
        dense_top = list(dense_docs.values())[:n]
        bm25_top = self._best_documents(live, keyword, query, n)
        candidates = list(dict.fromkeys([*list(dense_docs)[:n], *((c, d) for _, c, d in bm25_top)]))
        if not candidates:
            return []

        # Every passage of every candidate, each collection read once.
        per_collection: dict[str, list[str]] = {}
        for name, doc in candidates:
            per_collection.setdefault(name, []).append(doc)
        chunk_ids = {name: live[name].chunk_ids_of(docs) for name, docs in per_collection.items()}
        q = np.asarray(vector, dtype=np.float32)
        cosines: dict[str, dict[int, float]] = {}
        doc_bm25: dict[tuple[str, str], float] = {}
        for name, docs in per_collection.items():
            ids = [i for d in docs for i in chunk_ids[name][d]]
            values: list[float] = (
                (live[name].vectors(np.array(ids, dtype=np.int64)) @ q).tolist() if ids else []
            )
            cosines[name] = dict(zip(ids, values, strict=True))
            kw = live[name].bm25.scores_of(keyword[name].scores, docs)
            doc_bm25.update(((name, d), float(v)) for d, v in zip(docs, kw, strict=True))

        owner_of: list[tuple[str, str]] = []
        flat: list[int] = []
        for name, doc in candidates:
            for i in chunk_ids[name][doc]:
                owner_of.append((name, doc))
                flat.append(i)
        if not flat:
            return []
        cosine = np.array([cosines[c][i] for (c, _), i in zip(owner_of, flat, strict=True)])
        bm25 = np.array([doc_bm25[o] for o in owner_of], dtype=np.float64)

        d_hi, d_lo = (max(dense_top), min(dense_top)) if dense_top else (1.0, 0.0)
        b_scores = [v for v, _, _ in bm25_top]
        b_hi = max(b_scores) if b_scores else 0.0
        b_lo = min(b_scores) if len(b_scores) >= n else 0.0
        dense_part = _rescale(cosine, d_hi, d_lo)
        bm25_part = _rescale(bm25, b_hi, b_lo) if b_hi > 0 else np.zeros_like(dense_part)
        fused = s.dense_weight * dense_part + (1.0 - s.dense_weight) * bm25_part
        order = np.argsort(-fused, kind="stable")[:top_k]

        wanted: dict[str, list[int]] = {}
        for j in order:
            wanted.setdefault(owner_of[j][0], []).append(flat[j])
        texts = {name: live[name].passages(ids) for name, ids in wanted.items()}
        hits = []
        for j in order:
            name = owner_of[j][0]
            p = texts[name].get(flat[j])
            if p is not None:
                hits.append(SearchHit(_tagged(p, name), float(fused[j])))
        return hits


def _tagged(passage: Passage, collection: str) -> Passage:
    return replace(passage, collection=collection)


def _best_passages(
    live: Mapping[str, Index],
    vector: np.ndarray,
    k: int,
    filters: Mapping[str, Any] | None,
) -> list[tuple[float, str, int]]:
    """(cosine, collection, chunk id) of the union's ``k`` best passages, best first."""
    found = [
        (score, name, i)
        for name, ix in live.items()
        for i, score in ix.search_ids(vector, k, filters)
    ]
    # Stable on ties: collections in name order, each in its own index's order.
    return sorted(found, key=lambda x: -x[0])[:k]
