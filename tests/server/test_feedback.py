"""POST /v1/feedback over a real server: votes stored in SQLite, counted in /metrics,
exported by `citeline feedback export` as a QA set that `citeline eval qa` runs;
anything but the documented body is refused with 422 and stores nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.feedback import FeedbackStore
from tests.launcher import serving

QUESTION = "What did Gazprom and SOCAR sign?"
UNANSWERABLE = "What is the boiling point of tungsten?"


@pytest.fixture(scope="module")
def feedback_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "votes.sqlite3"


@pytest.fixture(scope="module")
def client(
    seed_index: Path, feedback_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    log = tmp_path_factory.mktemp("feedback-logs") / "server.log"
    with (
        serving(seed_index, log, {"CITELINE_FEEDBACK_DB": str(feedback_db)}) as url,
        httpx.Client(base_url=url, timeout=60) as c,
    ):
        yield c


def counted(client: httpx.Client) -> dict[str, float]:
    text = client.get("/metrics").text
    found = dict(re.findall(r'^citeline_feedback_total\{vote="(up|down)"\} (\S+)$', text, re.M))
    return {vote: float(found.get(vote, 0)) for vote in ("up", "down")}


def vote_on(client: httpx.Client, question: str, vote: str, **extra: Any) -> dict[str, Any]:
    """Ask the real server, then vote on its answer as the page does."""
    answer = client.post("/v1/ask", json={"question": question}).json()
    body = {
        "question": question,
        "answer": answer["answer"],
        "citations": [
            {k: c[k] for k in ("n", "doc_id", "quote", "start", "end")} for c in answer["citations"]
        ],
        "vote": vote,
        **extra,
    }
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["vote"] == vote and response.json()["id"] >= 1
    return answer


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_votes_are_stored_counted_and_exported_as_a_qa_set(
    client: httpx.Client, feedback_db: Path, seed_index: Path, tmp_path: Path
) -> None:
    before = counted(client)
    answer = vote_on(client, QUESTION, "up")
    refusal = vote_on(client, UNANSWERABLE, "up")
    assert refusal["abstained"] and not refusal["citations"]
    vote_on(client, "Why does it matter to Russia?", "down", comment="Off topic")
    assert counted(client) == {"up": before["up"] + 2, "down": before["down"] + 1}

    stored = FeedbackStore(feedback_db).all()
    assert [(f.question, f.vote) for f in stored][-3:] == [
        (QUESTION, "up"),
        (UNANSWERABLE, "up"),
        ("Why does it matter to Russia?", "down"),
    ]
    assert stored[-1].comment == "Off topic"
    assert [c.quote for c in stored[-3].citations] == [c["quote"] for c in answer["citations"]]

    out = tmp_path / "feedback-qa.jsonl"
    done = run_cli("feedback", "export", str(out), "--db", str(feedback_db))
    assert done.returncode == 0, done.stderr
    assert "2 questions written from 2 up votes" in done.stderr
    assert "1 down votes not exported" in done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["question"] == QUESTION
    assert lines[0]["answers"] == [c["quote"] for c in answer["citations"]]
    assert lines[0]["gold_doc_id"] == answer["citations"][0]["doc_id"]
    # An approved refusal: a question the articles do not answer.
    assert lines[1]["question"] == UNANSWERABLE and lines[1]["answers"] == []
    assert "gold_doc_id" not in lines[1]

    # The export is a QA set `citeline eval qa` runs: the same index answers the
    # approved question with the approved quotes again, and refuses the other.
    evaluated = run_cli("eval", "qa", str(out), "--index", str(seed_index), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["questions"] == 2 and report["answerable"] == 1, report
    assert report["answer_in_quotes"] == 1.0, report
    assert report["unanswerable_abstained"] == 1.0, report


def test_export_without_a_feedback_file_says_where_it_looked(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    done = run_cli("feedback", "export", str(tmp_path / "out.jsonl"), "--db", str(missing))
    assert done.returncode == 2
    assert f"no feedback file at {missing}" in done.stderr


GOOD: dict[str, Any] = {
    "question": QUESTION,
    "answer": "A strategic partnership [1].",
    "citations": [{"n": 1, "doc_id": "seed/a.txt", "quote": "a deal", "start": 0, "end": 6}],
    "vote": "up",
}


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"vote": "meh"}, "vote"),
        ({"vote": None}, "vote"),
        ({"vote": 1}, "vote"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"answer": ""}, "answer"),
        ({"citations": "all of them"}, "citations"),
        ({"citations": [{"n": 1, "doc_id": "d"}]}, "quote"),
        ({"citations": [{"n": "1", "doc_id": "d", "quote": "q"}]}, "n"),
        ({"citations": [{"n": 1, "doc_id": "d", "quote": "q", "score": 0.9}]}, "score"),
        ({"comment": 5}, "comment"),
        ({"comment": "x" * 2001}, "comment"),
        ({"stars": 5}, "stars"),
    ],
)
def test_bad_payloads_get_422_and_store_nothing(
    client: httpx.Client, feedback_db: Path, change: dict[str, Any], phrase: str
) -> None:
    rows = len(FeedbackStore(feedback_db).all())
    before = counted(client)
    response = client.post("/v1/feedback", json={**GOOD, **change})
    assert response.status_code == 422, response.text
    assert phrase in response.text
    assert len(FeedbackStore(feedback_db).all()) == rows
    assert counted(client) == before


def test_missing_fields_get_422(client: httpx.Client) -> None:
    for field in ("question", "answer", "citations", "vote"):
        body = {k: v for k, v in GOOD.items() if k != field}
        response = client.post("/v1/feedback", json=body)
        assert response.status_code == 422 and field in response.text, (field, response.text)
    assert client.post("/v1/feedback", content=b"not json").status_code in (400, 422)
