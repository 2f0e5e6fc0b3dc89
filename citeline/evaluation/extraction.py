"""Extraction quality: token-shingle precision, recall and F1 of a body against its gold text.

The measure of the public article-extraction benchmarks: both texts become lower-cased word
tokens, then overlapping shingles of four tokens, counted as multisets. Precision is the
share of the extracted shingles found in the gold body (chrome kept lowers it), recall the
share of gold shingles extracted (body lost lowers it).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["Score", "shingle_score"]

_TOKEN = re.compile(r"\w+", re.UNICODE)
SHINGLE = 4


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


def _shingles(text: str, n: int) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) < n:
        # Short texts still count: one shingle of whatever is there.
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def shingle_score(extracted: str, gold: str, n: int = SHINGLE) -> Score:
    got, want = _shingles(extracted, n), _shingles(gold, n)
    if not got and not want:
        return Score(1.0, 1.0, 1.0)
    common = sum((got & want).values())
    precision = common / sum(got.values()) if got else 0.0
    recall = common / sum(want.values()) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1)
