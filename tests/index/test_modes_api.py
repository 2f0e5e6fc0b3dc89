"""The retrieval mode over HTTP: a real ``citeline serve`` on 127.0.0.1 (seed index)."""

from __future__ import annotations

import httpx
import pytest

QUESTION = "What did Gazprom and SOCAR sign?"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid", None])
def test_search_and_ask_in_each_mode(server_url: str, mode: str | None) -> None:
    extra = {"mode": mode} if mode else {}
    r = httpx.post(f"{server_url}/v1/search", json={"query": QUESTION, "top_k": 3, **extra})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results and all(x["doc_id"] == results[0]["doc_id"] for x in results)
    scores = [x["score"] for x in results]
    assert scores == sorted(scores, reverse=True)
    if mode == "dense":
        assert all(-1 <= s <= 1 for s in scores)
    elif mode == "bm25":
        assert len(results) == 1 and scores[0] > 0  # one article, one passage for it
        assert "SOCAR" in results[0]["text"]
    else:  # hybrid, also the default
        assert all(0 <= s <= 1 for s in scores) and scores[0] == pytest.approx(1.0)

    a = httpx.post(f"{server_url}/v1/ask", json={"question": QUESTION, **extra}, timeout=60)
    assert a.status_code == 200, a.text
    body = a.json()
    assert not body["abstained"]
    assert any("strategic partnership" in c["quote"] for c in body["citations"])


@pytest.mark.slow
def test_unknown_mode_is_a_clear_422(server_url: str) -> None:
    r = httpx.post(f"{server_url}/v1/search", json={"query": "gas", "mode": "fuzzy"})
    assert r.status_code == 422
    body = r.json()
    assert "mode" in body["error"] and body["details"][0]["field"].endswith("mode")
