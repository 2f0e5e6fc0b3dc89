"""The HTTP contract, against a real ``citeline serve`` on 127.0.0.1 over the seed index."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import SEED_ARTICLE, require_shared

SEED_ID = "putin-visit-to-azerbaijan.txt"


@pytest.fixture(scope="module")
def client(server_url: str) -> httpx.Client:
    return httpx.Client(base_url=server_url, timeout=30)


def test_ask_cites_the_strategic_partnership(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": "What did Gazprom and SOCAR sign?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["abstained"] is False
    assert body["citations"], body
    doc = client.get(f"/v1/documents/{SEED_ID}").json()
    for c in body["citations"]:
        assert c["doc_id"] == SEED_ID
        assert doc["text"][c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in body["answer"]
        assert c["quote"] in body["answer"]
        assert c["source"] == SEED_ID
        assert c["title"] and "Azerbaijan" in c["title"]
    assert any("strategic partnership" in c["quote"] for c in body["citations"])
    # the cleaned text the offsets refer to is the article's own text
    assert doc["text"][:200] in require_shared(SEED_ARTICLE).read_text(encoding="utf-8")


def test_off_topic_question_abstains(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": "Who won the 2010 FIFA World Cup?"})
    assert r.status_code == 200
    body = r.json()
    assert body["abstained"] is True and body["citations"] == []
    assert "not cover" in body["answer"]


def test_search_returns_passages_with_offsets(client: httpx.Client) -> None:
    r = client.post("/v1/search", json={"query": "BRICS membership application", "top_k": 3})
    assert r.status_code == 200
    results = r.json()["results"]
    assert 1 <= len(results) <= 3
    doc = client.get(f"/v1/documents/{SEED_ID}").json()
    for hit in results:
        assert doc["text"][hit["start"] : hit["end"]] == hit["text"]
    assert "BRICS" in results[0]["text"]
    assert results == sorted(results, key=lambda h: -h["score"])
    filtered = client.post("/v1/search", json={"query": "BRICS", "filters": {"doc_id": "nope"}})
    assert filtered.json() == {"results": []}
    by_format = client.post("/v1/search", json={"query": "BRICS", "filters": {"format": "txt"}})
    assert by_format.json()["results"]


def test_health_and_ready(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True and ready["documents"] == 1 and ready["chunks"] >= 4
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/v1/ask", "/v1/search"}
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("path", "payload", "status", "phrase"),
    [
        ("/v1/ask", {"question": "   "}, 422, "must not be empty"),
        ("/v1/ask", {}, 422, "'question' is required"),
        ("/v1/ask", {"question": "x" * 2001}, 422, "at most 2000 characters"),
        ("/v1/ask", {"question": "ok?", "top_k": 0}, 422, "top_k"),
        ("/v1/ask", {"question": "ok?", "top_k": 51}, 422, "top_k"),
        ("/v1/search", {"query": "q", "top_k": 100}, 422, "top_k"),
        ("/v1/search", {"query": "q", "filters": {"a": [1]}}, 422, "filters"),
        ("/v1/ask", {"question": "ok?", "topk": 3}, 422, "not a known field"),
    ],
)
def test_validation_errors_say_what_to_fix(
    client: httpx.Client, path: str, payload: dict[str, object], status: int, phrase: str
) -> None:
    r = client.post(path, json=payload)
    assert r.status_code == status
    assert phrase in r.json()["error"]


def test_malformed_json_is_a_400(client: httpx.Client) -> None:
    r = client.post(
        "/v1/ask", content=b'{"question": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["error"]


def test_unknown_document_is_a_404(client: httpx.Client) -> None:
    r = client.get("/v1/documents/missing.txt")
    assert r.status_code == 404 and "no document" in r.json()["error"]
