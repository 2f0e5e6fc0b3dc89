"""Keyword search: BM25 over whole documents (bm25s), stored beside the vectors.

Documents rather than passages are the unit because term statistics over a
whole article ranked better than over its passages in our measurements (see
README, "Retrieval quality"); passages are chosen afterwards by the dense side.

The index is rebuilt whenever a generation is committed, so it can never
drift from the passages and vectors: added, changed and removed documents are
all covered by one code path. The rebuild is cheap because each document's
term counts are computed once, when it is ingested, and stored beside it
(:class:`TermCounter`); the commit only does array arithmetic over them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np

from index.normalize import ANALYZER_VERSION, term_of, terms, words

log = logging.getLogger("citeline.index")

DOC_IDS = "doc_ids.json"
PARAMS = {"method": "lucene", "k1": 1.2, "b": 0.75}


def idf_of(n_docs: int, df: np.ndarray) -> np.ndarray:
    """Lucene's BM25 IDF (what bm25s computes for method="lucene")."""
    return np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def idf_one(n_docs: int, df: int) -> float:
    return float(np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)))


class TermCounter:
    """Turns a document into (term ids, counts) over a growing vocabulary."""

    def __init__(self, vocab: dict[str, int] | None = None) -> None:
        self.vocab: dict[str, int] = dict(vocab or {})
        self.added: list[tuple[str, int]] = []  # terms new to ``vocab``, in id order
        self._next = max(self.vocab.values(), default=-1) + 1
        # word -> term id (-1: dropped): stemming and vocabulary work happen
        # once per distinct word, not once per occurrence.
        self._word_ids: dict[str, int] = {}

    def count(self, text: str) -> tuple[int, np.ndarray, np.ndarray]:
        """(number of terms, distinct term ids, their counts) of ``text``."""
        cache = self._word_ids
        row: list[int] = []
        for word in words(text):
            i = cache.get(word)
            if i is None:
                i = cache[word] = self._id(term_of(word))
            if i >= 0:
                row.append(i)
        ids, counts = np.unique(np.array(row, dtype=np.int32), return_counts=True)
        return len(row), ids.astype(np.int32), counts.astype(np.int32)

    def _id(self, term: str | None) -> int:
        if term is None:
            return -1
        i = self.vocab.get(term)
        if i is None:
            i = self.vocab[term] = self._next
            self.added.append((term, i))
            self._next += 1
        return i


class Bm25Index:
    """Scores every document of one generation for a query's terms."""

    def __init__(self, model: bm25s.BM25 | None, doc_ids: list[str]) -> None:
        self._model = model
        self.doc_ids = doc_ids
        self._row = {d: i for i, d in enumerate(doc_ids)}

    def __len__(self) -> int:
        return len(self.doc_ids)

    # -- building ---------------------------------------------------------------

    @classmethod
    def build(cls, documents: Iterable[tuple[str, str]]) -> Bm25Index:
        """Index ``(doc_id, text)`` pairs."""
        counter = TermCounter()
        return cls.from_counts(
            ((doc_id, *counter.count(text)) for doc_id, text in documents), counter.vocab
        )

    @classmethod
    def from_counts(
        cls,
        documents: Iterable[tuple[str, int, np.ndarray, np.ndarray]],
        vocab: dict[str, int],
    ) -> Bm25Index:
        """Index documents given as (doc_id, length, term ids, counts) over ``vocab``.

        Computes the same Lucene BM25 weights as ``bm25s.BM25.index`` (a test
        checks it), with array arithmetic instead of a loop over every term.
        """
        doc_ids: list[str] = []
        lengths: list[int] = []
        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        for doc_id, length, ids, counts in documents:
            doc_ids.append(doc_id)
            lengths.append(length)
            id_parts.append(ids)
            tf_parts.append(counts)
        if not doc_ids:
            return cls(None, [])
        n_docs = len(doc_ids)
        doc_len = np.array(lengths, dtype=np.float64)
        rows = np.repeat(np.arange(n_docs, dtype=np.int64), [len(p) for p in id_parts])
        term_ids = np.concatenate(id_parts).astype(np.int64)
        tf = np.concatenate(tf_parts).astype(np.float64)
        # Columns only for terms that occur, numbered 0..V-1 as bm25s expects.
        used, cols = np.unique(term_ids, return_inverse=True)
        df = np.bincount(cols, minlength=len(used)).astype(np.float64)
        k1, b = float(PARAMS["k1"]), float(PARAMS["b"])  # type: ignore[arg-type]
        idf = idf_of(n_docs, df)
        avg = doc_len.mean() if doc_len.mean() > 0 else 1.0
        weights = idf[cols] * tf / (k1 * ((1 - b) + b * doc_len[rows] / avg) + tf)
        # CSC by term: each column lists the documents containing that term.
        order = np.lexsort((rows, cols))
        indptr = np.zeros(len(used) + 1, dtype=np.int64)
        np.cumsum(df.astype(np.int64), out=indptr[1:])
        term_of_id = {i: t for t, i in vocab.items()}
        model = bm25s.BM25(**PARAMS)
        model.scores = {
            "data": weights[order].astype(np.float32),
            "indices": rows[order].astype(np.int32),
            "indptr": indptr,
            "num_docs": n_docs,
        }
        model.vocab_dict = {term_of_id[int(t)]: c for c, t in enumerate(used)}
        model.unique_token_ids_set = set(model.vocab_dict.values())
        model.nonoccurrence_array = None
        return cls(model, doc_ids)

    def save(self, folder: Path) -> list[Path]:
        """Write the index into ``folder``; returns the files written (to fsync)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)
        (folder / DOC_IDS).write_text(
            json.dumps({"analyzer": ANALYZER_VERSION, "doc_ids": self.doc_ids}), encoding="utf-8"
        )
        return [p for p in folder.iterdir() if p.is_file()]

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        meta = json.loads((folder / DOC_IDS).read_text(encoding="utf-8"))
        if meta.get("analyzer") != ANALYZER_VERSION:
            raise ValueError(
                f"keyword index analyzer {meta.get('analyzer')!r} is not {ANALYZER_VERSION!r}"
            )
        doc_ids: list[str] = meta["doc_ids"]
        if not doc_ids:
            return cls(None, [])
        # Memory-mapped: the scores matrix stays in the page cache, not the heap.
        model = bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0)
        if model.scores["num_docs"] != len(doc_ids):
            raise ValueError(
                f"keyword index has {model.scores['num_docs']} documents but {len(doc_ids)} ids"
            )
        return cls(model, doc_ids)

    # -- searching ----------------------------------------------------------------

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document (0 where no query term occurs)."""
        if self._model is None:
            return np.zeros(0, dtype=np.float32)
        query_terms = terms(query)
        if not query_terms:  # only stopwords or punctuation: nothing can match
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return np.asarray(self._model.get_scores(query_terms), dtype=np.float32)

    def top(
        self,
        query: str,
        k: int,
        allowed: Iterable[str] | None = None,
        scores: np.ndarray | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` best documents with a positive score, best first
        (``scores``: this query's :meth:`scores`, when the caller has them)."""
        scores = self.scores(query) if scores is None else scores
        if scores.size == 0 or k <= 0:
            return []
        if allowed is not None:
            mask = np.zeros_like(scores)
            rows = [self._row[d] for d in allowed if d in self._row]
            mask[rows] = 1.0
            scores = scores * mask
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.doc_ids[i], float(scores[i])) for i in top if scores[i] > 0]

    # -- several indexes as one -----------------------------------------------------

    def term_stats(self, query_terms: list[str]) -> dict[str, int]:
        """Document frequency of each query term that occurs here (for IDF over a union)."""
        if self._model is None:
            return {}
        vocab, indptr = self._model.vocab_dict, self._model.scores["indptr"]
        return {
            t: int(indptr[vocab[t] + 1] - indptr[vocab[t]]) for t in set(query_terms) if t in vocab
        }

    def scores_with_idf(
        self,
        query_terms: list[str],
        idf: dict[str, float],
        avgdl: float | None = None,
        lengths: np.ndarray | None = None,
    ) -> np.ndarray:
        """Every document's BM25 score as one index over a union of indexes would give it:
        each term's IDF replaced by ``idf[term]`` and, when ``avgdl`` and this index's
        document ``lengths`` (in doc id order) are given, the length normalisation done
        with the union's average length.

        The stored weights are ``idf(t) * tf / (k1 * (1 - b + b * dl / avgdl) + tf)``;
        the term frequency is recovered from them (it is an integer, so rounding undoes
        the float32 storage) and the weight recomputed. With this index's own ``idf``
        and no ``avgdl`` it equals :meth:`scores`.
        """
        if self._model is None:
            return np.zeros(0, dtype=np.float32)
        n_docs = len(self.doc_ids)
        out = np.zeros(n_docs, dtype=np.float64)
        vocab = self._model.vocab_dict
        data, indices, indptr = (self._model.scores[k] for k in ("data", "indices", "indptr"))
        k1, b = float(PARAMS["k1"]), float(PARAMS["b"])  # type: ignore[arg-type]
        renorm = avgdl is not None and lengths is not None and len(lengths) == n_docs
        if renorm:
            assert lengths is not None and avgdl is not None
            own = float(lengths.mean()) or 1.0
            norm_here = k1 * ((1 - b) + b * lengths / own)
            norm_union = k1 * ((1 - b) + b * lengths / (avgdl or 1.0))
        for t in query_terms:  # repeated terms count again, as bm25s does
            col = vocab.get(t)
            if col is None:
                continue
            start, end = int(indptr[col]), int(indptr[col + 1])
            here = idf_one(n_docs, end - start)
            weights = np.asarray(data[start:end], dtype=np.float64)
            rows = np.asarray(indices[start:end])
            if renorm:
                x = np.clip(weights / here, 0.0, 1.0 - 1e-9)
                tf = np.maximum(1.0, np.round(norm_here[rows] * x / (1.0 - x)))
                weights = idf[t] * tf / (norm_union[rows] + tf)
            else:
                weights = weights * (idf[t] / here)
            np.add.at(out, rows, weights)
        return out.astype(np.float32)

    def scores_of(self, scores: np.ndarray, doc_ids: list[str]) -> np.ndarray:
        """Entries of ``scores`` (from :meth:`scores`) for these documents (0 if unknown)."""
        rows = np.array([self._row.get(d, -1) for d in doc_ids], dtype=np.int64)
        if scores.size == 0:
            return np.zeros(len(doc_ids), dtype=np.float32)
        return np.where(rows >= 0, scores[np.maximum(rows, 0)], 0.0).astype(np.float32)

    def score_of(self, scores: np.ndarray, doc_id: str) -> float:
        row = self._row.get(doc_id)
        return float(scores[row]) if row is not None else 0.0
