from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from access.keys import ANONYMOUS, Caller
from server.schemas import Health, NotReady, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"model": NotReady}},
    summary="The index is loaded and searchable",
)
async def readyz(request: Request) -> Ready | JSONResponse:
    answers = getattr(request.app.state, "answers", None)
    searcher = answers.searcher if answers is not None else None
    # Probes carry no key: they learn ready or not. Counts, generations and load errors
    # (which name collections) go only to keys that may read what they describe.
    caller: Caller | None = getattr(request.state, "caller", ANONYMOUS)
    if searcher is None:
        error = (answers.index_error if answers is not None else None) or "no index loaded"
        if caller is None or not caller.admin_of_all:
            error = "no index loaded (an admin key sees why)"
        return JSONResponse(NotReady(error=error).model_dump(), status_code=503)
    if caller is None:
        # The page's question counter shows this limit (readyz needs no key).
        return Ready(ready=True, max_question_chars=request.app.state.settings.max_question_chars)
    readable = [
        searcher.indexes[n] for n in caller.readable(searcher.names) if n in searcher.indexes
    ]
    return Ready(
        ready=True,
        documents=sum(ix.document_count for ix in readable),
        chunks=sum(ix.chunk_count for ix in readable),
        generation=readable[0].generation.name if len(readable) == 1 else None,
        embedder=searcher.embedder.name,
        max_question_chars=request.app.state.settings.max_question_chars,
    )
