"""Request and response bodies of the HTTP API: the contract clients build on."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)

# The documented limit; Settings.max_question_chars may lower it per deployment.
MAX_TEXT = 2000

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
FilterValue = str | int | float | bool
Mode = Literal["dense", "bm25", "hybrid"]
CollectionName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", min_length=1, max_length=63)
]
Collections = Annotated[list[CollectionName], Field(min_length=1, max_length=100)] | None
_COLLECTIONS_HELP = (
    'Collections to use, e.g. ["energy"]; default: every collection the key may read. '
    "A collection the key may not read is refused with 403"
)
_MODE_HELP = (
    "dense (embeddings), bm25 (keywords) or hybrid (both, fused); "
    "default: the server's CITELINE_RETRIEVAL_MODE (hybrid)"
)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    query: Text = Field(description="What to look for, in plain words")
    top_k: StrictInt = Field(5, ge=1, le=50, description="How many passages to return (1-50)")
    filters: dict[str, FilterValue] | None = Field(
        None,
        description="Exact matches on doc_id, title, author, source, url, date "
        'or any metadata key, e.g. {"category": "business"}',
    )
    mode: Mode | None = Field(None, description=_MODE_HELP)
    collections: Collections = Field(None, description=_COLLECTIONS_HELP)


class SearchResult(BaseModel):
    chunk_id: int
    doc_id: str
    title: str | None
    source: str | None
    text: str
    start: int = Field(description="Offset of the passage in the article's cleaned text")
    end: int
    collection: str | None = Field(None, description="The collection the passage belongs to")
    score: float = Field(
        description="How well the passage matches, higher is better; comparable within one "
        "response. dense: cosine similarity (-1..1); bm25: BM25 score of its article (>= 0); "
        "hybrid: fused score (0..1), w * dense + (1 - w) * BM25, each rescaled between the "
        "query's best and its 100th-best candidate"
    )


class SearchResponse(BaseModel):
    results: list[SearchResult]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: Text = Field(description="A question in plain words")
    top_k: StrictInt | None = Field(None, ge=1, le=50, description="Passages to read (1-50)")
    mode: Mode | None = Field(None, description=_MODE_HELP)
    stream: bool = Field(False, description="Answer as Server-Sent Events (see README)")
    collections: Collections = Field(None, description=_COLLECTIONS_HELP)


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
    collection: str | None = Field(None, description="The collection the article belongs to")
    supported: bool = Field(
        True, description="False when no sentence citing it is backed by the quote (LLM answers)"
    )
    page: int | None = Field(
        None, description="Page of the quote in a paged document (PDF); null otherwise"
    )


class SentenceOut(BaseModel):
    text: str
    citations: list[int] = Field(description="The [n] this sentence cites")
    supported: bool = Field(description="Whether its best supporting span passed the threshold")
    score: float


class AskResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    abstained: bool
    answerer: Literal["extractive", "llm"] = Field(
        "extractive", description="llm when an LLM wrote the answer, else extractive"
    )
    model: str | None = Field(
        None, description="The LLM's name (CITELINE_LLM_MODEL) when it wrote the answer"
    )
    fallback_reason: str | None = Field(
        None, description="Why the LLM was not used for this answer, when one is configured"
    )
    sentences: list[SentenceOut] = Field(
        default_factory=list, description="Per-sentence support of an LLM answer"
    )


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"]
    content: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)
    ]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    messages: list[ChatMessage] = Field(
        min_length=1, max_length=100, description="The conversation, oldest first; ends with user"
    )
    top_k: StrictInt | None = Field(None, ge=1, le=50, description="Passages to read (1-50)")
    mode: Mode | None = Field(None, description=_MODE_HELP)
    stream: bool = Field(False, description="Answer as Server-Sent Events (see README)")
    collections: Collections = Field(None, description=_COLLECTIONS_HELP)

    @model_validator(mode="after")
    def _ends_with_user(self) -> ChatRequest:
        if self.messages[-1].role != "user":
            raise ValueError("the last message must come from the user")
        return self


class ChatResponse(AskResponse):
    condensed_question: str = Field(description="The standalone question that was answered")


class DocumentResponse(BaseModel):
    doc_id: str
    title: str | None
    author: str | None
    source: str | None
    url: str | None
    date: str | None
    metadata: dict[str, object]
    text: str = Field(description="The cleaned article text that offsets refer to")
    collection: str | None = Field(None, description="The collection the article belongs to")


class Health(BaseModel):
    status: str = "ok"


class Ready(BaseModel):
    """Without a valid key (probes) only ``ready``: counts and generations are told to
    callers of the collections they may read, never to anyone else."""

    ready: bool
    documents: int | None = Field(None, description="Articles in the collections you may read")
    chunks: int | None = Field(None, description="Passages in the collections you may read")
    generation: str | None = None
    embedder: str | None = None
    max_question_chars: int = Field(
        MAX_TEXT, description="Longest question accepted (CITELINE_MAX_QUESTION_CHARS)"
    )


class CollectionOut(BaseModel):
    name: str
    documents: int = Field(description="Articles (0 while nothing was ingested)")
    chunks: int
    generation: str | None = None


class CollectionsResponse(BaseModel):
    collections: list[CollectionOut] = Field(description="The collections your key may read")


class NotReady(BaseModel):
    ready: bool = False
    error: str = Field(description="Why the index is not loaded, naming the file")


class FeedbackCitation(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    n: StrictInt = Field(ge=1, description="The citation's number in the answer")
    doc_id: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    quote: Annotated[str, StringConstraints(min_length=1, max_length=20000)]
    start: StrictInt | None = Field(None, ge=0)
    end: StrictInt | None = Field(None, ge=0)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: Text = Field(description="The (standalone) question the answer answered")
    answer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)
    ] = Field(description="The answer as shown, with its [n] markers")
    citations: list[FeedbackCitation] = Field(
        max_length=50, description="The answer's citations (empty for a refusal)"
    )
    vote: Literal["up", "down"]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = (
        Field(None, description="What was wrong (or right), in the reader's words")
    )


class FeedbackResponse(BaseModel):
    id: int
    vote: Literal["up", "down"]


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong and how to fix it")
    details: list[dict[str, object]] | None = None


# Responses of every route that covers collections (server/access.py).
ACCESS_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorResponse, "description": "A named collection this key may not read"},
    404: {"model": ErrorResponse, "description": "A named collection that does not exist"},
}
