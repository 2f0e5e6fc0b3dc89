"""Typed records that cross the ingest -> index <- server boundaries."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Article:
    """A cleaned article, ready to be chunked and indexed.

    ``text`` is the cleaned body; every offset stored for this article refers to it.
    """

    doc_id: str
    text: str
    title: str | None = None
    author: str | None = None
    source: str | None = None  # url when known, else the path it was read from
    url: str | None = None
    date: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: ``article.text[start:end] == text``."""

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A stored chunk together with the article fields a reader needs to cite it."""

    chunk_id: int
    doc_id: str
    title: str | None
    source: str | None
    text: str
    start: int
    end: int
    url: str | None = None
    author: str | None = None
    date: str | None = None
    # Where each page starts in the article text (paged formats such as PDF; else empty).
    page_starts: tuple[int, ...] = ()

    def page_of(self, offset: int) -> int | None:
        """The 1-based page holding article offset ``offset``; None for unpaged articles."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))

    # The collection the passage came from (index/collections.py); None when one
    # index was searched on its own.
    collection: str | None = None


# Article fields a search may filter on (SQLite columns; Qdrant payload keys).
DOCUMENT_FIELDS = ("doc_id", "title", "author", "source", "url", "date")


@dataclass(frozen=True)
class SearchHit:
    passage: Passage
    score: float

    @property
    def collection(self) -> str | None:
        return self.passage.collection


@dataclass(frozen=True)
class Failure:
    """An input that could not be ingested, and why, in words a user can act on."""

    source: str
    reason: str
