"""Ranking metrics at document level, as BEIR and TREC define them.

``ranking`` is a list of document ids, best first, without duplicates; ``qrels``
maps a document id to its graded relevance (0 or absent = not relevant). Gains
are linear in the grade (trec_eval's ``ndcg_cut``), so with binary judgments
nDCG is the usual log2-discounted hit count over the ideal one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


def _relevant(qrels: Mapping[str, int]) -> dict[str, int]:
    return {d: g for d, g in qrels.items() if g > 0}


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    return len(rel.keys() & set(ranking[:k])) / len(rel)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    rel = _relevant(qrels)
    for i, d in enumerate(ranking[:k]):
        if d in rel:
            return 1.0 / (i + 1)
    return 0.0


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation, numpy's default."""
    xs = sorted(values)
    if not xs:
        return 0.0
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def dedupe(doc_ids: Iterable[str]) -> list[str]:
    """Document ranking from a passage ranking: a document ranks where its best passage ranks."""
    seen: dict[str, None] = {}
    for d in doc_ids:
        seen.setdefault(d, None)
    return list(seen)


def evaluate_run(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@100 and MRR@10 over the queries that have
    at least one relevant document (queries without judgments cannot be scored)."""
    judged = [q for q, rel in qrels.items() if _relevant(rel)]
    if not judged:
        return {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0, "queries": 0}
    sums = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for q in judged:
        ranking = run.get(q, [])
        sums["ndcg@10"] += ndcg_at_k(ranking, qrels[q], 10)
        sums["recall@10"] += recall_at_k(ranking, qrels[q], 10)
        sums["recall@100"] += recall_at_k(ranking, qrels[q], 100)
        sums["mrr@10"] += mrr_at_k(ranking, qrels[q], 10)
    out: dict[str, float] = {m: v / len(judged) for m, v in sums.items()}
    out["queries"] = len(judged)
    return out
