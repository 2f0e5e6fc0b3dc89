"""Request and response bodies of the HTTP API: the contract clients build on."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# The documented limit; Settings.max_question_chars may lower it per deployment.
MAX_TEXT = 2000

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
FilterValue = str | int | float | bool


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Text = Field(description="What to look for, in plain words")
    top_k: int = Field(5, ge=1, le=50, description="How many passages to return (1-50)")
    filters: dict[str, FilterValue] | None = Field(
        None,
        description="Exact matches on doc_id, title, author, source, url, date "
        'or any metadata key, e.g. {"category": "business"}',
    )


class SearchResult(BaseModel):
    chunk_id: int
    doc_id: str
    title: str | None
    source: str | None
    text: str
    start: int = Field(description="Offset of the passage in the article's cleaned text")
    end: int
    score: float = Field(description="Cosine similarity to the query")


class SearchResponse(BaseModel):
    results: list[SearchResult]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Text = Field(description="A question in plain words")
    top_k: int | None = Field(None, ge=1, le=50, description="Passages to read (1-50)")


class CitationOut(BaseModel):
    n: int = Field(description="The number used as [n] in the answer")
    doc_id: str
    title: str | None
    source: str | None
    quote: str = Field(description="Exact text of the article: article[start:end] == quote")
    start: int
    end: int
    chunk_id: int
    url: str | None = None


class AskResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    abstained: bool


class DocumentResponse(BaseModel):
    doc_id: str
    title: str | None
    author: str | None
    source: str | None
    url: str | None
    date: str | None
    metadata: dict[str, object]
    text: str = Field(description="The cleaned article text that offsets refer to")


class Health(BaseModel):
    status: str = "ok"


class Ready(BaseModel):
    ready: bool
    documents: int
    chunks: int
    generation: str
    embedder: str


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong and how to fix it")
    details: list[dict[str, object]] | None = None
