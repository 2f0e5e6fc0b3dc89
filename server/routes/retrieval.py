from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from server.access import covered
from server.deps import AnswerSvc, LengthLimit, Served
from server.schemas import (
    ACCESS_ERRORS,
    CollectionOut,
    CollectionsResponse,
    DocumentResponse,
    ErrorResponse,
    SearchRequest,
    SearchResponse,
    SearchResult,
)

router = APIRouter(prefix="/v1", responses={422: {"model": ErrorResponse}})


@router.post(
    "/search",
    response_model=SearchResponse,
    responses=ACCESS_ERRORS,
    summary="Passages most similar to a query",
)
def search(
    body: SearchRequest,
    served: Served,
    answers: AnswerSvc,
    limit: LengthLimit,
    request: Request,
) -> SearchResponse:
    limit(body.query, "query")
    collections = covered(request, served, body.collections)
    hits = answers.search(body.query, body.top_k, body.filters, body.mode, collections)
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
                collection=h.passage.collection,
                score=round(h.score, 6),
            )
            for h in hits
        ]
    )


@router.get(
    "/documents/{doc_id:path}",
    response_model=DocumentResponse,
    responses=ACCESS_ERRORS,
    summary="An article's cleaned text and metadata (citation offsets refer to this text)",
)
def document(
    doc_id: str,
    served: Served,
    request: Request,
    collection: Annotated[
        str | None,
        Query(description="The collection holding it; default: the first you may read that does"),
    ] = None,
) -> DocumentResponse:
    # An id outside the caller's collections is "not found", exactly like one that
    # exists nowhere: the answer must not tell which ids other collections hold.
    collections = covered(request, served, [collection] if collection else None)
    name, doc = served.find_document(doc_id, collections)
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
        collection=name,
    )


@router.get(
    "/collections",
    response_model=CollectionsResponse,
    responses=ACCESS_ERRORS,
    summary="The collections your key may read, with their sizes",
)
def collections(served: Served, request: Request) -> CollectionsResponse:
    names = covered(request, served, None)
    out = []
    for name in names:
        ix = served.indexes.get(name)
        out.append(
            CollectionOut(
                name=name,
                documents=ix.document_count if ix else 0,
                chunks=ix.chunk_count if ix else 0,
                generation=ix.generation.name if ix else None,
            )
        )
    return CollectionsResponse(collections=out)
