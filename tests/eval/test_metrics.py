"""Ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from citeline.evaluation.metrics import (
    dedupe,
    evaluate_run,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)

L2_3, L2_5 = math.log2(3), math.log2(5)


def test_binary_ndcg_recall_mrr() -> None:
    ranking = ["a", "b", "c", "d"]
    qrels = {"b": 1, "d": 1, "e": 1, "z": 0}  # e is never retrieved; z is judged not relevant
    dcg = 1 / L2_3 + 1 / L2_5  # hits at ranks 2 and 4
    idcg = 1 + 1 / L2_3 + 1 / 2  # three relevant documents at ranks 1..3
    assert ndcg_at_k(ranking, qrels, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranking, qrels, 10) == pytest.approx(0.498189, abs=1e-6)
    assert recall_at_k(ranking, qrels, 10) == pytest.approx(2 / 3)
    assert recall_at_k(ranking, qrels, 2) == pytest.approx(1 / 3)
    assert mrr_at_k(ranking, qrels, 10) == pytest.approx(1 / 2)
    assert mrr_at_k(ranking, qrels, 1) == 0.0


def test_graded_gains_are_linear() -> None:
    # trec_eval's ndcg_cut: gain = grade. Ideal order is a (2) then c (1).
    assert ndcg_at_k(["c", "a"], {"a": 2, "c": 1}) == pytest.approx((1 + 2 / L2_3) / (2 + 1 / L2_3))
    assert ndcg_at_k(["a", "c"], {"a": 2, "c": 1}) == pytest.approx(1.0)


def test_cutoffs() -> None:
    ranking = [f"x{i}" for i in range(10)] + ["hit"]  # the relevant one is 11th
    qrels = {"hit": 1}
    assert ndcg_at_k(ranking, qrels, 10) == 0.0
    assert mrr_at_k(ranking, qrels, 10) == 0.0
    assert recall_at_k(ranking, qrels, 10) == 0.0
    assert recall_at_k(ranking, qrels, 100) == 1.0


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert percentile(range(101), 99) == pytest.approx(99)
    assert percentile([10.0, 20.0], 99) == pytest.approx(19.9)
    assert percentile([], 50) == 0.0


def test_dedupe_keeps_best_rank() -> None:
    assert dedupe(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_evaluate_run_averages_judged_queries_only() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}, "q3": {"d": 0}}
    run = {"q1": ["a"], "q2": ["x", "c"], "q3": ["d"]}
    scores = evaluate_run(run, qrels)
    assert scores["queries"] == 2  # q3 has no relevant document
    q2_ndcg = (1 / L2_3) / (1 + 1 / L2_3)
    assert scores["ndcg@10"] == pytest.approx((1 + q2_ndcg) / 2)
    assert scores["recall@10"] == pytest.approx((1 + 0.5) / 2)
    assert scores["mrr@10"] == pytest.approx((1 + 0.5) / 2)
    assert evaluate_run({}, qrels)["ndcg@10"] == 0.0  # a query without a run scores 0
