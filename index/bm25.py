"""Keyword search: BM25 over whole documents (bm25s), stored beside the vectors.

Documents rather than passages are the unit because term statistics over a
whole article ranked better than over its passages in our measurements (see
README, "Retrieval quality"); passages are chosen afterwards by the dense side.

The index is rebuilt from the stored documents whenever a generation is
committed, so it can never drift from the passages and vectors: added, changed
and removed documents are all covered by one code path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np

from index.normalize import ANALYZER_VERSION, terms

log = logging.getLogger("citeline.index")

DOC_IDS = "doc_ids.json"
PARAMS = {"method": "lucene", "k1": 1.2, "b": 0.75}


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
        """Index ``(doc_id, text)`` pairs; texts are consumed one at a time."""
        vocab: dict[str, int] = {}
        ids: list[np.ndarray] = []
        doc_ids: list[str] = []
        for doc_id, text in documents:
            doc_ids.append(doc_id)
            # int32 arrays rather than lists of str: a million passages' worth of
            # documents would otherwise take gigabytes while building.
            ids.append(
                np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms(text)), dtype=np.int32)
            )
        if not doc_ids:
            return cls(None, [])
        model = bm25s.BM25(**PARAMS)  # type: ignore[arg-type]
        model.index((ids, vocab), show_progress=False)  # type: ignore[arg-type]
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
        return np.asarray(self._model.get_scores(terms(query)), dtype=np.float32)

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

    def score_of(self, scores: np.ndarray, doc_id: str) -> float:
        row = self._row.get(doc_id)
        return float(scores[row]) if row is not None else 0.0
