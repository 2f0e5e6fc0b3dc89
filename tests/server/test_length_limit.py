"""CITELINE_MAX_QUESTION_CHARS, checked by one FastAPI dependency on every route that
answers or searches (and by the Slack bot with the same words)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from answer.searcher import Searcher
from answer.service import too_long
from citeline.settings import LLMSettings, Settings
from index.embedder import Embedder
from server.app import create_app

LIMIT = 20
LONG = "What did Gazprom and SOCAR sign in Baku?"  # 40 characters


@pytest.fixture(scope="module")
def client(seed_index: Path, embedder: Embedder) -> Iterator[TestClient]:
    settings = Settings(
        _env_file=None,
        index=seed_index,
        max_question_chars=LIMIT,
        llm=LLMSettings(_env_file=None, base_url=None),
    )
    searcher = Searcher.open(seed_index, embedder=embedder)
    with TestClient(create_app(settings, searcher=searcher)) as c:
        yield c
    searcher.index.close()


@pytest.mark.parametrize(
    ("path", "body", "what"),
    [
        ("/v1/ask", {"question": LONG}, "question"),
        ("/v1/search", {"query": LONG}, "query"),
        ("/v1/chat", {"messages": [{"role": "user", "content": LONG}]}, "question"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": LONG}]}, "question"),
    ],
)
def test_a_long_question_is_refused_saying_by_how_much(
    client: TestClient, path: str, body: dict[str, object], what: str
) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert f"{what} is {len(LONG)} characters long; the limit is {LIMIT}" in r.json()["error"]


def test_a_question_within_the_limit_is_answered(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "Gazprom SOCAR?"})
    assert r.status_code == 200 and r.json()["citations"]


def test_the_words_are_shared_with_slack() -> None:
    assert too_long("x" * LIMIT, LIMIT) is None
    assert too_long("x" * 25, LIMIT, "That question") == (
        "That question is 25 characters long; the limit is 20. Shorten it."
    )
