"""What every answerer returns: the answer text, its citations, and how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.models import SearchHit


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str | None
    source: str | None
    quote: str  # article_text[start:end] == quote
    start: int
    end: int
    chunk_id: int
    url: str | None = None
    collection: str | None = None
    score: float = 0.0
    # False when no sentence citing it is backed by its quote (generated answers only).
    supported: bool = True
    page: int | None = None  # the page of the quote, for paged formats such as PDF


@dataclass(frozen=True)
class SentenceSupport:
    """One sentence of a generated answer and how well its sources back it."""

    text: str
    citations: list[int]
    supported: bool
    score: float


@dataclass(frozen=True)
class Answer:
    answer: str
    citations: list[Citation]
    abstained: bool
    # Score of the best supporting sentence (cosine + weighted term overlap).
    confidence: float = 0.0
    answerer: str = "extractive"
    # The LLM that wrote it (answerer "llm"), as configured; None for quotes.
    model: str | None = None
    fallback_reason: str | None = None
    sentences: list[SentenceSupport] = field(default_factory=list)


@dataclass(frozen=True)
class ShownQuote:
    """A quote the last answer showed, found in its article."""

    doc_id: str
    start: int  # article offsets
    end: int
    text: str  # the article's text there (its spacing, not the answer's)


@dataclass(frozen=True)
class FollowUpHints:
    """What the conversation tells the extractive answerer beyond the question."""

    # For a condensed follow-up, the words as typed: they are what it asks about;
    # the carried words only say where.
    focus: str | None = None
    # For a question that stands alone mid-conversation, the passages retrieved with
    # the conversation's subject carried in: they may add an answer, never displace one.
    context: tuple[SearchHit, ...] = ()
    # For a follow-up that asks beside the last answer's first quote ("Who said
    # that?", "Who is he?"): where that quote sits.
    beside: ShownQuote | None = None
