"""Answer evaluation: do the cited quotes contain the answer, from the right article?

A QA set is a jsonl file, one question a line::

    {"question": "...", "answers": ["...", ...], "gold_doc_id": "..."}

``answers`` lists acceptable answer strings; an empty list marks a question the
articles do not answer (the right response is to abstain). ``gold_doc_id`` is
optional. Answer strings are compared after SQuAD's normalisation (lower case,
no punctuation, no articles, single spaces): a question counts as answered
correctly when the quotes the answer cites contain a gold answer.
"""

from __future__ import annotations

import re
import string
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from answer.extractive import Answer
from citeline.evaluation.jsonl import records
from citeline.evaluation.metrics import percentile

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


class QaSetError(Exception):
    """The QA file is unreadable or malformed; the message names the line."""


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalisation (its evaluate script's ``normalize_answer``)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_answer(quotes: list[str], answers: list[str]) -> bool:
    """True when a gold answer appears, as whole words, in one of the quotes."""
    haystacks = [f" {normalize_answer(q)} " for q in quotes]
    needles = [f" {n} " for n in (normalize_answer(a) for a in answers) if n.strip()]
    return any(n in h for h in haystacks for n in needles)


@dataclass(frozen=True)
class QaItem:
    question: str
    answers: list[str]
    gold_doc_id: str | None = None


def load_qa_set(path: Path) -> list[QaItem]:
    items: list[QaItem] = []
    for n, record in records(path, QaSetError):
        question, answers = record.get("question"), record.get("answers")
        if not isinstance(question, str) or not question.strip():
            raise QaSetError(f"{path}:{n}: 'question' must be a non-empty string")
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise QaSetError(f"{path}:{n}: 'answers' must be a list of strings")
        gold = record.get("gold_doc_id")
        if gold is not None and not isinstance(gold, str | int):
            raise QaSetError(f"{path}:{n}: 'gold_doc_id' must be a string")
        items.append(QaItem(question.strip(), answers, None if gold is None else str(gold)))
    if not items:
        raise QaSetError(f"{path} holds no questions")
    return items


class Asker(Protocol):
    def ask_sync(self, question: str, top_k: int | None = None) -> Answer: ...


@dataclass(frozen=True)
class QaReport:
    questions: int
    answerable: int
    # Of answerable questions: the cited quotes contain a gold answer.
    answer_in_quotes: float
    # Of answered questions with a gold document: share of citations into it.
    citation_doc_accuracy: float | None
    # Of answered questions with a gold document: at least one citation into it.
    gold_doc_cited: float | None
    abstention_rate: float
    # Of questions with no gold answer: the answerer abstained.
    unanswerable_abstained: float | None
    # Of answerable questions: the answerer abstained (wrongly).
    answerable_abstained: float | None
    # Of answered questions: words in all cited quotes together, and per quote.
    mean_quote_words: float
    mean_words_per_quote: float
    p50_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def rows(self) -> list[tuple[str, str]]:
        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{100 * v:.1f}%"

        return [
            ("answer found in cited quotes", pct(self.answer_in_quotes)),
            ("citations into the gold document", pct(self.citation_doc_accuracy)),
            ("gold document cited", pct(self.gold_doc_cited)),
            ("abstained", pct(self.abstention_rate)),
            ("abstained when unanswerable", pct(self.unanswerable_abstained)),
            ("abstained when answerable", pct(self.answerable_abstained)),
            ("quoted words per answer (mean)", f"{self.mean_quote_words:.1f}"),
            ("words per quote (mean)", f"{self.mean_words_per_quote:.1f}"),
            ("latency p50", f"{self.p50_ms:.0f} ms"),
            ("latency p99", f"{self.p99_ms:.0f} ms"),
        ]


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def evaluate_qa(asker: Asker, items: list[QaItem], top_k: int | None = None) -> QaReport:
    found: list[bool] = []
    doc_share: list[float] = []
    doc_cited: list[bool] = []
    abstained: list[bool] = []
    unanswerable: list[bool] = []
    answerable: list[bool] = []
    quote_words: list[int] = []
    per_quote: list[int] = []
    latencies: list[float] = []
    for item in items:
        started = time.perf_counter()
        answer = asker.ask_sync(item.question, top_k)
        latencies.append((time.perf_counter() - started) * 1000)
        abstained.append(answer.abstained)
        if not answer.abstained and answer.citations:
            counts = [len(c.quote.split()) for c in answer.citations]
            quote_words.append(sum(counts))
            per_quote.extend(counts)
        if item.answers:
            answerable.append(answer.abstained)
            quotes = [c.quote for c in answer.citations] if not answer.abstained else []
            found.append(contains_answer(quotes, item.answers))
        else:
            unanswerable.append(answer.abstained)
        if item.gold_doc_id is not None and answer.citations and not answer.abstained:
            into = [c.doc_id == item.gold_doc_id for c in answer.citations]
            doc_share.append(sum(into) / len(into))
            doc_cited.append(any(into))
    return QaReport(
        questions=len(items),
        answerable=len(found),
        answer_in_quotes=_share(found) or 0.0,
        citation_doc_accuracy=sum(doc_share) / len(doc_share) if doc_share else None,
        gold_doc_cited=_share(doc_cited),
        abstention_rate=_share(abstained) or 0.0,
        unanswerable_abstained=_share(unanswerable),
        answerable_abstained=_share(answerable),
        mean_quote_words=sum(quote_words) / len(quote_words) if quote_words else 0.0,
        mean_words_per_quote=sum(per_quote) / len(per_quote) if per_quote else 0.0,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
    )
