from __future__ import annotations

from fastapi import APIRouter, HTTPException

from server.deps import AnswerSvc, LengthLimit, Served
from server.schemas import (
    DocumentResponse,
    ErrorResponse,
    SearchRequest,
    SearchResponse,
    SearchResult,
)

router = APIRouter(prefix="/v1", responses={422: {"model": ErrorResponse}})


@router.post("/search", response_model=SearchResponse, summary="Passages most similar to a query")
def search(
    body: SearchRequest, _: Served, answers: AnswerSvc, limit: LengthLimit
) -> SearchResponse:
    limit(body.query, "query")
    hits = answers.search(body.query, body.top_k, body.filters, body.mode)
    return SearchResponse(
        results=[
            SearchResult(
                chunk_id=h.passage.chunk_id,
                doc_id=h.passage.doc_id,
                title=h.passage.title,
                source=h.passage.source,
                text=h.passage.text,
                start=h.passage.start,
                end=h.passage.end,
                score=round(h.score, 6),
            )
            for h in hits
        ]
    )


@router.get(
    "/documents/{doc_id:path}",
    response_model=DocumentResponse,
    responses={404: {"model": ErrorResponse}},
    summary="An article's cleaned text and metadata (citation offsets refer to this text)",
)
def document(doc_id: str, served: Served) -> DocumentResponse:
    doc = served.index.document(doc_id)
    if doc is None:
        raise HTTPException(404, f"no document with id {doc_id!r}; ids come from /v1/search")
    return DocumentResponse(
        doc_id=doc.doc_id,
        title=doc.title,
        author=doc.author,
        source=doc.source,
        url=doc.url,
        date=doc.date,
        metadata=doc.metadata,
        text=doc.text,
    )
