"""Thumbs up/down on answers, kept in a small SQLite file of their own.

A vote records the question the answer answered (the standalone one), the answer, the
quotes it cited and an optional comment. Up-voted answers export as a QA set for
``citeline eval qa``: the question, with the quotes a person approved as its accepted
answers and the first cited article as its gold article, so a later change that stops
citing them shows up as a regression. A down vote says an answer was wrong, not what
the right one is, so it is kept (and counted) but not exported. An approved refusal
exports as a question the articles do not answer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Vote = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    comment TEXT
)
"""


@dataclass(frozen=True)
class CitedQuote:
    n: int
    doc_id: str
    quote: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Feedback:
    question: str
    answer: str
    vote: Vote
    citations: list[CitedQuote] = field(default_factory=list)
    comment: str | None = None
    id: int | None = None
    created: float | None = None


def default_path(index_dir: Path) -> Path:
    """Beside the index folder, not in it: generations come and go, votes stay."""
    return index_dir.resolve().parent / "feedback.sqlite3"


class FeedbackStore:
    """One SQLite file; a connection per call, so any thread may use the store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._created = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._created:
            # On first use, not at startup: a server whose votes cannot be written
            # (read-only disk) still answers questions.
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute(_SCHEMA)
                finally:
                    db.close()
                self._created = True
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:  # commits, or rolls back on an exception
                yield db
        finally:
            db.close()

    def add(self, feedback: Feedback) -> int:
        citations = json.dumps(
            [c.__dict__ for c in feedback.citations], ensure_ascii=False, separators=(",", ":")
        )
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created, vote, question, answer, citations, comment) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    feedback.vote,
                    feedback.question,
                    feedback.answer,
                    citations,
                    feedback.comment,
                ),
            )
            return int(cursor.lastrowid or 0)

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            rows = db.execute("SELECT vote, COUNT(*) FROM feedback GROUP BY vote").fetchall()
        return {"up": 0, "down": 0, **{vote: int(n) for vote, n in rows}}

    def all(self) -> list[Feedback]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, created, vote, question, answer, citations, comment "
                "FROM feedback ORDER BY id"
            ).fetchall()
        return [
            Feedback(
                id=row[0],
                created=row[1],
                vote=row[2],
                question=row[3],
                answer=row[4],
                citations=[CitedQuote(**c) for c in json.loads(row[5])],
                comment=row[6],
            )
            for row in rows
        ]


def qa_lines(feedback: list[Feedback]) -> list[dict[str, Any]]:
    """QA-set records (see citeline/evaluation/qa.py) from the up-voted answers, one per
    question: its accepted answers are the approved quotes and its gold article the one
    cited first. An up-voted answer with no quotes was an approved refusal ("not found in
    your articles"): its record has no accepted answers, which marks a question to refuse.
    """
    by_question: dict[str, dict[str, Any]] = {}
    for item in feedback:
        if item.vote != "up":
            continue
        cited = sorted((c for c in item.citations if c.quote.strip()), key=lambda c: c.n)
        key = " ".join(item.question.split()).lower()
        record = by_question.get(key)
        if record is None:
            record = {"question": item.question, "answers": [], "feedback_ids": []}
            if cited:
                record["gold_doc_id"] = cited[0].doc_id
            by_question[key] = record
        elif bool(cited) != bool(record["answers"]):
            continue  # an answer and a refusal both approved: the first one stands
        record["answers"].extend(c.quote for c in cited if c.quote not in record["answers"])
        record["feedback_ids"].append(item.id)
    return list(by_question.values())
